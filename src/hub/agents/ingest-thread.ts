// The status ingest on a thread of its own (ingest-worker.ts), behind the same interface as
// createStatusIngest. Console lines, stats and the panels' fan-out keep the main event loop busy;
// every PostgreSQL round trip of a batch made on that loop waited behind them. Here the main
// thread only hands reports over and sends the acks: a report crosses the main loop twice, and
// the batch's round trips run on a loop that does nothing else.
//
// Reports handed over in one loop turn travel in one message, and so do their outcomes. If the
// thread dies, the reports it held are answered INTERNAL (agents resend, and a resent report that
// did commit is acked as a replay) and a new thread starts a second later; reports meanwhile are
// refused the same way. At most `lanes × maxQueue` reports wait for an answer: beyond that the
// hub is overloaded and says so.
import { Worker } from 'node:worker_threads'
import type { PoolOptions } from '../../db/database.ts'
import type { IngestWorkerData, FromWorker, ToWorker } from './ingest-worker.ts'
import { refused, type IngestOutcome, type StatusIngest, type StatusReport } from './status-ingest.ts'

export interface IngestThreadOptions {
  pool: PoolOptions
  lanes: number
  maxBatch?: number
  maxQueue?: number
  onBatch?: (size: number) => void
  log: { error (obj: object, msg: string): void, warn (obj: object, msg: string): void }
  /** How long after a thread died the next one starts (ms). */
  restartMs?: number
  /** How long a drain may take before the thread is ended (ms): past the statement timeouts. */
  drainTimeoutMs?: number
  /** The thread's module: ingest-worker.ts, or in tests one that wraps it. */
  worker?: URL
}

const WORKER = new URL('./ingest-worker.ts', import.meta.url)

export function createIngestThread (options: IngestThreadOptions): StatusIngest {
  const { lanes, onBatch, log, restartMs = 1_000, drainTimeoutMs = 60_000, worker: module = WORKER } = options
  const maxPending = lanes * (options.maxQueue ?? 20_000)
  const depth = new Int32Array(new SharedArrayBuffer(4))
  const pending = new Map<number, (outcome: IngestOutcome) => void>()
  let outbox: Array<[number, StatusReport]> = []
  let nextId = 0
  let worker: Worker | undefined
  let restart: NodeJS.Timeout | undefined
  let draining: Promise<void> | undefined

  function start (): Worker {
    const data: IngestWorkerData = {
      pool: options.pool,
      lanes,
      ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
      ...(options.maxQueue === undefined ? {} : { maxQueue: options.maxQueue }),
      depth: depth.buffer as SharedArrayBuffer
    }
    const w = new Worker(module, { workerData: data, name: 'status-ingest' })
    w.unref() // the hub's sockets keep the process alive, not this thread
    w.on('message', (message: FromWorker) => { receive(message) })
    w.on('error', err => { log.error({ err }, 'status ingest thread failed') })
    w.on('exit', () => {
      worker = undefined
      Atomics.store(depth, 0, 0)
      // What it held may or may not have committed: the agents resend, and replays are acked.
      for (const resolve of pending.values()) resolve(refused(draining === undefined ? 'error' : 'closed'))
      pending.clear()
      if (draining === undefined) {
        log.error({}, `status ingest thread stopped; a new one starts in ${restartMs} ms`)
        restart = setTimeout(() => { restart = undefined; worker = start() }, restartMs)
      }
    })
    return w
  }

  function receive (message: FromWorker): void {
    if (message.type === 'done') {
      for (const size of message.batches) onBatch?.(size)
      for (const [id, outcome] of message.results) {
        pending.get(id)?.(outcome)
        pending.delete(id)
      }
    } else if (message.type === 'log') {
      log[message.level]({ err: Object.assign(new Error(message.err.message), message.err) }, message.msg)
    }
  }

  function send (message: ToWorker): void { worker?.postMessage(message) }

  worker = start()
  return {
    async submit (report) {
      if (draining !== undefined) return refused('closed')
      if (worker === undefined) return refused('error')
      if (pending.size >= maxPending) return refused('overloaded')
      const id = nextId++
      const answer = new Promise<IngestOutcome>(resolve => { pending.set(id, resolve) })
      // setImmediate: the reports of the current I/O phase go over together.
      if (outbox.push([id, report]) === 1) {
        setImmediate(() => {
          send({ type: 'submit', reports: outbox })
          outbox = []
        })
      }
      return await answer
    },
    async drain () {
      draining ??= (async () => {
        clearTimeout(restart)
        const w = worker
        if (w === undefined) return
        w.ref() // until it has drained, even if nothing else keeps the process alive
        // It answers what it holds, ends its pool and stops by itself (its coverage and its
        // connections closed properly); a thread stuck past the timeouts is ended.
        const exited = new Promise(resolve => { w.once('exit', resolve) })
        setImmediate(() => { send({ type: 'drain' }) }) // after the reports still in the outbox
        const stuck = setTimeout(() => { w.terminate().catch(() => {}) }, drainTimeoutMs)
        await exited
        clearTimeout(stuck)
      })()
      await draining
    },
    depth: () => Atomics.load(depth, 0) + outbox.length
  }
}
