// A hub run as a child process (src/hub/main.ts), for tests that SIGKILL it: a free port, and a
// promise of its URL once it logs "hub ready".
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '../..')

export { freePort } from '../../src/db/embedded-postgres.ts'

/** Keeps the last 4,000 characters of the child's output (for the error when it never gets ready). */
export function startHubProcess (env: Record<string, string>, { readyMs = 30_000 } = {}): { child: ChildProcess, ready: Promise<string>, output: () => string } {
  const child = spawn(process.execPath, ['src/hub/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4_000) }
  child.stderr?.on('data', keep)
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub not ready within ${readyMs / 1000} s:\n${output}`)), readyMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      keep(chunk)
      const match = /hub ready at (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
  })
  return { child, ready, output: () => output }
}
