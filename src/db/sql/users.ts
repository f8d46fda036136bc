// Row locks for the "last ADMIN" rule: a delete or demotion locks every ADMIN row first, so two
// concurrent demotions of the last two ADMINs serialise and the second sees one ADMIN left.

/** What a Prisma transaction offers for raw SQL. */
interface RawSql { $queryRaw<T> (query: TemplateStringsArray, ...values: unknown[]): Promise<T> }

/** Locks the ADMIN rows (in id order, so concurrent lockers cannot deadlock) and returns their ids. */
export async function lockAdmins (tx: RawSql): Promise<string[]> {
  const rows = await tx.$queryRaw<Array<{ id: string }>>`SELECT id::text AS id FROM users WHERE role = 'ADMIN' ORDER BY id FOR UPDATE`
  return rows.map(r => r.id)
}
