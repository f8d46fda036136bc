// Group commit: items submitted from many connections are written together, one transaction per
// batch, so the cost per item falls as load rises. (The same mechanism batches lookups that
// arrive in storms, such as agent token versions.)
//
// Items are spread over `lanes`; each lane runs at most one transaction at a time. While a
// lane's transaction is in flight, new items queue behind it and all go into the next one: at
// low load an item commits alone and at once, under load batches grow by themselves (PostgreSQL's
// own group-commit idea), with no timer adding latency. One key always maps to one lane and a
// lane commits in order, so items of one key are written in submission order.
//
// A failed commit fails only its own batch: each of its items gets `fail('error')`. With `isolate`,
// not even that: a batch that storage refused (a data error, not a lost connection) is retried in
// halves, recursively, so the items that commit alone commit and only an item that fails alone
// gets `isolate.unstorable` (terminal: resending cannot help). Once an item of a key is
// unstorable, the later items of that key in the batch get the same answer without being tried,
// so a key's items never commit out of order. A batch of n items with one poisoned item costs
// about 2·log2(n) extra transactions; a transient failure (the database is down) is not bisected.

export type Refusal = 'error' | 'overloaded' | 'closed'

/** A lane key from a random hex id (a uuid, a token hash): its last 8 hex digits spread evenly. */
export const hexLane = (id: string): number => Number.parseInt(id.slice(-8), 16)

export interface Isolation<T, R> {
  /** Whether a failed commit may be one item's fault, so bisecting the batch can find it. */
  isItemFault: (err: unknown) => boolean
  /** The result of an item that fails alone with such an error. */
  unstorable: (err: unknown) => R
  /** Items of one key keep their order: after one is unstorable, its later ones fail with it. */
  keyOf: (item: T) => string
}

export interface GroupCommitOptions<T, R> {
  commit: (items: T[]) => Promise<R[]>
  /** The result of an item whose batch failed, or that was refused (queue full, draining). */
  fail: (why: Refusal, err?: unknown) => R
  /** Retry a refused batch in halves so that one item cannot fail the others. */
  isolate?: Isolation<T, R>
  lanes?: number
  laneOf?: (item: T) => number
  maxBatch?: number
  /** Items waiting per lane before new ones are refused. */
  maxQueue?: number
  /** Told the size of every batch taken for commit (hub_write_batch_size, traffic-metrics.ts). */
  onBatch?: (size: number) => void
}

export interface GroupCommit<T, R> {
  submit (item: T): Promise<R>
  /** Waits for queued items to commit; later submissions are refused. */
  drain (): Promise<void>
  /** Items waiting in all lanes (not those of batches in flight). */
  depth (): number
}

interface Pending<T, R> { item: T, resolve: (result: R) => void }

export function createGroupCommit<T, R> (options: GroupCommitOptions<T, R>): GroupCommit<T, R> {
  const { commit, fail, isolate, lanes = 1, laneOf = () => 0, maxBatch = 1_000, maxQueue = 20_000, onBatch } = options
  const queues: Array<Array<Pending<T, R>>> = Array.from({ length: lanes }, () => [])
  const busy: Array<Promise<void> | undefined> = Array.from({ length: lanes }, () => undefined)
  let closed = false

  function schedule (lane: number): void {
    if (busy[lane] !== undefined || queues[lane]?.length === 0) return
    // setImmediate: let the frames of the current I/O phase join this batch.
    busy[lane] = new Promise<void>(resolve => setImmediate(resolve))
      .then(async () => { await flush(lane) })
      .finally(() => {
        busy[lane] = undefined
        schedule(lane)
      })
  }

  async function flush (lane: number): Promise<void> {
    const batch = (queues[lane] as Array<Pending<T, R>>).splice(0, maxBatch)
    onBatch?.(batch.length)
    if (isolate === undefined) {
      await commitOrFail(batch)
      return
    }
    const poisoned = new Map<string, R>()
    await commitIsolated(batch, isolate, poisoned)
  }

  async function commitOrFail (batch: Array<Pending<T, R>>): Promise<void> {
    let results: R[]
    try {
      results = await commit(batch.map(p => p.item))
    } catch (err) {
      const failed = fail('error', err)
      results = batch.map(() => failed)
    }
    batch.forEach((p, i) => p.resolve(results[i] as R))
  }

  /** Commits `batch`, or after a failure that may be an item's fault, its halves in order. */
  async function commitIsolated (batch: Array<Pending<T, R>>, iso: Isolation<T, R>, poisoned: Map<string, R>): Promise<void> {
    // Items of a key already found unstorable fail with it, untried: order per key holds.
    const live: Array<Pending<T, R>> = []
    for (const p of batch) {
      const answer = poisoned.get(iso.keyOf(p.item))
      if (answer === undefined) live.push(p)
      else p.resolve(answer)
    }
    if (live.length === 0) return
    let err: unknown
    try {
      const results = await commit(live.map(p => p.item))
      live.forEach((p, i) => p.resolve(results[i] as R))
      return
    } catch (caught) {
      err = caught
    }
    if (!iso.isItemFault(err)) {
      const failed = fail('error', err)
      for (const p of live) p.resolve(failed)
      return
    }
    if (live.length === 1) {
      const only = live[0] as Pending<T, R>
      const answer = iso.unstorable(err)
      poisoned.set(iso.keyOf(only.item), answer)
      only.resolve(answer)
      return
    }
    const half = Math.ceil(live.length / 2)
    await commitIsolated(live.slice(0, half), iso, poisoned)
    await commitIsolated(live.slice(half), iso, poisoned)
  }

  return {
    async submit (item) {
      const lane = laneOf(item) % lanes
      const queue = queues[lane] as Array<Pending<T, R>>
      if (closed) return fail('closed')
      if (queue.length >= maxQueue) return fail('overloaded')
      return await new Promise<R>(resolve => {
        queue.push({ item, resolve })
        schedule(lane)
      })
    },
    async drain () {
      closed = true
      while (busy.some(b => b !== undefined)) await Promise.all(busy)
    },
    depth () {
      let n = 0
      for (const q of queues) n += q.length
      return n
    }
  }
}

/**
 * Lookups that arrive in storms (one per request, or per agent after a hub restart), batched the
 * same way: while one query is in flight the next keys gather and go out together. Resolves to the
 * value found for the key, undefined when there is none; rejects when the query failed (or the
 * batcher refused it), so each caller decides what a failure means for it.
 */
export function createBatchedLookup<V> (fetch: (keys: string[]) => Promise<Map<string, V>>, lanes = 1): (key: string) => Promise<V | undefined> {
  type Found = { ok: true, value: V | undefined } | { ok: false, err: Error }
  const batches = createGroupCommit<string, Found>({
    lanes,
    laneOf: hexLane,
    commit: async keys => {
      const found = await fetch([...new Set(keys)])
      return keys.map(key => ({ ok: true, value: found.get(key) }))
    },
    fail: (why, err) => ({ ok: false, err: err instanceof Error ? err : new Error(`lookup refused: ${why}`) })
  })
  return async key => {
    const found = await batches.submit(key)
    if (!found.ok) throw found.err
    return found.value
  }
}
