// What a PostgreSQL error says about its cause, by SQLSTATE class
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).

// Classes of errors that a statement's data causes, whatever the server's state: the same rows
// fail again on every retry. 22 data exception (a value out of range, an invalid time, a character
// the encoding cannot hold), 23 integrity constraint violation, 54 program limit exceeded (an
// index row too large), P0 PL/pgSQL raise (a trigger refusing a row).
const DATA_CLASSES: ReadonlySet<string> = new Set(['22', '23', '54', 'P0'])

/**
 * Whether `err` is PostgreSQL refusing the data of a statement (the rows themselves), as opposed
 * to a transient fault (a lost connection, a deadlock, a cancelled query, a shutdown) or a bug or
 * misconfiguration (a syntax or privilege error), which bisecting the rows could never isolate.
 */
export function isDataError (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.length === 5 && DATA_CLASSES.has(code.slice(0, 2))
}
