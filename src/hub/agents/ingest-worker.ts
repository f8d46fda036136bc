// The status ingest's thread (ingest-thread.ts starts it): the group commit of status-ingest.ts
// on a pool of its own, so its PostgreSQL round trips wait for this thread's event loop, not for
// the main one, which console lines, stats and panel fan-out keep busy.
//
// Messages in: `submit` (reports, each with the id the main thread answers by) and `drain`.
// Out: `done` (outcomes by id, and the sizes of the batches taken since the last `done`) and
// `log`; after a drain the thread ends by itself. The depth of the lanes is kept in a shared Int32 for the metrics.
import { parentPort, workerData } from 'node:worker_threads'
import { createPool, type PoolOptions } from '../../db/database.ts'
import { createStatusIngest, type IngestOutcome, type StatusReport } from './status-ingest.ts'

export interface IngestWorkerData {
  pool: PoolOptions
  lanes: number
  maxBatch?: number
  maxQueue?: number
  /** One Int32: the reports waiting in the lanes. */
  depth: SharedArrayBuffer
}

export type ToWorker = { type: 'submit', reports: Array<[number, StatusReport]> } | { type: 'drain' }
export type FromWorker =
  | { type: 'done', results: Array<[number, IngestOutcome]>, batches: number[] }
  | { type: 'log', level: 'error' | 'warn', msg: string, err: { message: string, code?: string, stack?: string } }

const port = parentPort as NonNullable<typeof parentPort>
const data = workerData as IngestWorkerData
const post = (message: FromWorker) => { port.postMessage(message) }
const logTo = (level: 'error' | 'warn') => (obj: object, msg: string) => {
  const err = (obj as { err?: { message?: string, code?: string, stack?: string } }).err
  post({ type: 'log', level, msg, err: { message: String(err?.message ?? err), ...(err?.code === undefined ? {} : { code: err.code }), ...(err?.stack === undefined ? {} : { stack: err.stack }) } })
}

const pool = createPool({ ...data.pool, poolMax: data.lanes, log: { warn: logTo('warn') } }, 'hub-ingest')
const depth = new Int32Array(data.depth)
let results: Array<[number, IngestOutcome]> = []
let batches: number[] = []
let flushing = false
const ingest = createStatusIngest({
  pool,
  lanes: data.lanes,
  ...(data.maxBatch === undefined ? {} : { maxBatch: data.maxBatch }),
  ...(data.maxQueue === undefined ? {} : { maxQueue: data.maxQueue }),
  onBatch: size => { batches.push(size) },
  log: { error: logTo('error') }
})

/** Outcomes go back once per loop turn, however many batches committed in it. */
function answer (id: number, outcome: IngestOutcome): void {
  results.push([id, outcome])
  if (flushing) return
  flushing = true
  setImmediate(() => {
    flushing = false
    Atomics.store(depth, 0, ingest.depth())
    post({ type: 'done', results, batches })
    results = []
    batches = []
  })
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'submit') {
    for (const [id, report] of message.reports) ingest.submit(report).then(outcome => { answer(id, outcome) }, () => {}) // never rejects
    Atomics.store(depth, 0, ingest.depth())
    return
  }
  ingest.drain().then(async () => {
    await pool.end()
    // After the last outcomes; with the port closed nothing is left, and the thread ends.
    setImmediate(() => { port.close() })
  }, (err: Error) => { logTo('error')({ err }, 'status ingest drain failed') })
})
