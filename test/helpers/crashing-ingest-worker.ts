// The real status-ingest thread (src/hub/agents/ingest-worker.ts), which dies of an uncaught
// exception when it is handed a report for CRASH_SERVER: how the tests lose the thread. Imported
// by a test (on the main thread) only for CRASH_SERVER.
import { isMainThread, parentPort } from 'node:worker_threads'
import type { ToWorker } from '../../src/hub/agents/ingest-worker.ts'

export const CRASH_SERVER = 'ffffffff-ffff-4fff-bfff-ffffffffffff'

if (!isMainThread) {
  await import('../../src/hub/agents/ingest-worker.ts')
  parentPort?.on('message', (message: ToWorker) => {
    if (message.type === 'submit' && message.reports.some(([, r]) => r.serverId === CRASH_SERVER)) throw new Error('the ingest thread dies (test)')
  })
}
