// Machine facts printed with every result, and CPU time of processes read from /proc.
import { readFile, readdir } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import pg from 'pg'

export async function machineFacts (databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version')
  const { rows: sc } = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')
  await client.end()
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ` +
    `PostgreSQL ${rows[0]?.server_version ?? '?'} (embedded, synchronous_commit=${sc[0]?.synchronous_commit ?? '?'}), ${process.platform} ${process.arch}`
}

const TICKS = 100 // USER_HZ on Linux

/** CPU seconds (user + system) used so far by each pid; missing pids count 0. */
export async function cpuSeconds (pids: number[]): Promise<number> {
  let total = 0
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
    if (stat === undefined) continue
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    total += (Number(fields[11]) + Number(fields[12])) / TICKS // utime, stime
  }
  return total
}

/** The postmaster and all its children (backends, walwriter, checkpointer...). */
export async function postgresPids (postmaster: number): Promise<number[]> {
  const pids = [postmaster]
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined)
    if (stat === undefined) continue
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === postmaster) pids.push(Number(name))
  }
  return pids
}
