// A hub run as a child process (src/hub/main.ts), for tests that SIGKILL it: a free port, and a
// promise of its URL once it logs "hub ready".
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '../..')

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export function startHubProcess (env: Record<string, string>): { child: ChildProcess, ready: Promise<string>, output: () => string } {
  const child = spawn(process.execPath, ['src/hub/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr?.on('data', chunk => { output += chunk })
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub not ready within 30 s:\n${output.slice(-3000)}`)), 30_000)
    child.stdout?.on('data', chunk => {
      output += chunk
      const match = /hub ready at (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
  })
  return { child, ready, output: () => output }
}
