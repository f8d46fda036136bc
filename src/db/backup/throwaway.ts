// A throwaway PostgreSQL on a restored data folder: started as the embedded cluster is (same
// binaries, same OS user when root, same minimal environment, TCP on 127.0.0.1 only, no unix
// socket), with archiving off so it never writes into a live hub's spool, and max_connections and
// the like left as the restore wrote them (a hot standby refuses settings lower than the
// primary's). Run until its recovery has ended, then stopped. Verification (verify.ts) and
// `npm run db:restore` use it.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { binaries, freePort, postgresEnvironment, runAs } from '../embedded-postgres.ts'

const run = promisify(execFile)

export interface Throwaway {
  readonly port: number
  /** A new superuser connection to `database`; the caller ends it. */
  connect (database?: string): Promise<pg.Client>
  /** Waits until recovery has ended and the cluster is promoted (pg_is_in_recovery() false). */
  promoted (timeoutMs: number): Promise<void>
  /** The tail of its server log (for error messages). */
  logTail (lines?: number): Promise<string>
  stop (): Promise<void>
}

export async function startThrowaway (opts: { pgdata: string, password: string, startTimeoutS?: number }): Promise<Throwaway> {
  const bin = await binaries()
  const owner = await runAs()
  const exec = async (args: string[]) => await run(bin.pg_ctl, args, { ...owner, env: postgresEnvironment() })
  const port = await freePort()
  const logFile = path.join(opts.pgdata, 'throwaway.log')
  const logTail = async (lines = 15) => (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-lines).join('\n')
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c archive_mode=off`
  try {
    // -w returns once connections are accepted: during recovery that is when it became consistent.
    await exec(['start', '-D', opts.pgdata, '-w', '-t', String(opts.startTimeoutS ?? 600), '-l', logFile, '-o', options])
  } catch (err) {
    await exec(['stop', '-D', opts.pgdata, '-m', 'immediate', '-w', '-t', '30']).catch(() => {})
    throw new Error(`the restored cluster did not start: ${(err as Error).message.trim()}\n${await logTail()}`, { cause: err })
  }
  const connect = async (database = 'hub') => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: opts.password, database, connectionTimeoutMillis: 10_000, application_name: 'hub-restore' })
    client.on('error', () => {}) // a connection lost at stop must not crash the caller
    await client.connect()
    return client
  }
  let stopped: Promise<void> | undefined
  return {
    port,
    connect,
    logTail,
    async promoted (timeoutMs) {
      const deadline = Date.now() + timeoutMs
      let last: unknown
      while (Date.now() < deadline) {
        try {
          const client = await connect('postgres')
          try {
            const { rows } = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
            if (rows[0]?.r === false) return
          } finally {
            await client.end().catch(() => {})
          }
        } catch (err) {
          last = err
        }
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      throw new Error(`recovery did not end within ${timeoutMs} ms${last === undefined ? '' : ` (${(last as Error).message})`}\n${await logTail()}`)
    },
    async stop () {
      stopped ??= exec(['stop', '-D', opts.pgdata, '-m', 'fast', '-w', '-t', '60']).then(() => {}, async () => {
        await exec(['stop', '-D', opts.pgdata, '-m', 'immediate', '-w', '-t', '30']).catch(() => {})
      })
      await stopped
    }
  }
}
