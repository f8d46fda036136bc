// Parent <-> child calls over Node's IPC channel, for the benchmark processes (hub, bare ws
// server, load generators): `serve` in the child, `spawnChild(...).call` in the parent.
import { fork, type ChildProcess } from 'node:child_process'

interface Request { id: number, cmd: string, arg: unknown }
type Reply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

/** In a child: answers the parent's calls; exits when the parent goes away. */
export function serve (handlers: Record<string, (arg: any) => unknown>, ready: unknown = true): void {
  const send = (msg: unknown) => { process.send?.(msg) }
  process.on('message', (m: Request) => {
    const handler = handlers[m.cmd]
    Promise.resolve()
      .then(() => { if (handler === undefined) throw new Error(`unknown command ${m.cmd}`); return handler(m.arg) })
      .then(result => send({ id: m.id, ok: true, result } satisfies Reply),
        (err: unknown) => send({ id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies Reply))
  })
  process.on('disconnect', () => process.exit(0))
  send({ ready })
}

export interface Child<R> {
  child: ChildProcess
  /** What the child passed to serve() as `ready`. */
  ready: Promise<R>
  call<T = any> (cmd: string, arg?: unknown, timeoutMs?: number): Promise<T>
  stop (): Promise<void>
}

export function spawnChild<R = unknown> (script: string, env: Record<string, string>, execArgv: string[] = []): Child<R> {
  const child = fork(script, [], { env: { ...process.env, ...env }, execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let next = 0
  const waiting = new Map<number, { resolve (v: any): void, reject (e: Error): void }>()
  const ready = new Promise<R>((resolve, reject) => {
    child.on('message', (m: { ready?: R, id?: number, ok?: boolean, result?: unknown, error?: string }) => {
      if ('ready' in m) { resolve(m.ready as R); return }
      const w = waiting.get(m.id as number)
      if (w === undefined) return
      waiting.delete(m.id as number)
      if (m.ok === true) w.resolve(m.result)
      else w.reject(new Error(`${script}: ${String(m.error)}`))
    })
    child.on('exit', code => {
      const err = new Error(`${script} exited with ${code}`)
      reject(err)
      for (const w of waiting.values()) w.reject(err)
      waiting.clear()
    })
  })
  return {
    child,
    ready,
    async call (cmd, arg, timeoutMs = 120_000) {
      const id = next++
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiting.delete(id); reject(new Error(`${script}: ${cmd} took over ${timeoutMs} ms`)) }, timeoutMs)
        waiting.set(id, { resolve: v => { clearTimeout(timer); resolve(v) }, reject: e => { clearTimeout(timer); reject(e) } })
        child.send({ id, cmd, arg } satisfies Request)
      })
    },
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

/**
 * Each child's clock (`performance.timeOrigin + performance.now()`, answered to 'clock') minus
 * this process's, from the fastest of 20 round trips: latencies measured across processes are
 * only as good as this agreement.
 */
export async function clockOffsets (children: ReadonlyArray<Child<unknown>>): Promise<number[]> {
  return await Promise.all(children.map(async w => {
    let best = { rtt: Infinity, offset: 0 }
    for (let i = 0; i < 20; i++) {
      const t0 = performance.timeOrigin + performance.now()
      const t = await w.call<number>('clock')
      const t1 = performance.timeOrigin + performance.now()
      if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: t - (t0 + t1) / 2 }
    }
    return best.offset
  }))
}
