// Several notifications in one autocommit statement, in order: the cross-hub console relay
// (src/hub/console/console-relay.ts) sends its batches this way, one statement at a time, so a
// receiving hub gets them in the order they were queued (NOTIFYs committed by concurrent pool
// connections could be delivered out of order) and a flush costs one round trip, not one per
// payload. Never inside a write transaction: NOTIFYing commits serialise on a cluster-wide lock.
import type pg from 'pg'

export async function notifyMany (db: pg.Pool | pg.Client, items: ReadonlyArray<{ channel: string, payload: string }>): Promise<void> {
  if (items.length === 0) return
  await db.query({
    name: 'notify_many',
    text: 'SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)',
    values: [items.map(i => i.channel), items.map(i => i.payload)]
  })
}
