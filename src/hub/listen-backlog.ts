// The listen backlog: how many connections the kernel completes and queues for the hub before
// Node accepts them. Node's default, 511, overflows when thousands of agents reconnect at once
// after a hub restart; the excess SYNs are dropped and retried by the clients' kernels after 1, 3,
// 7, 15, 31 s, which is what stretches a reconnect storm (bench/results/connections.md). The
// kernel caps any backlog at net.core.somaxconn, so that cap is the default.
import { readFile } from 'node:fs/promises'

export const FALLBACK_BACKLOG = 511

/** `configured` when set, else the kernel's cap (somaxconn), else Node's default. */
export async function listenBacklog (configured: number | undefined, somaxconnFile = '/proc/sys/net/core/somaxconn'): Promise<number> {
  if (configured !== undefined) return configured
  const text = await readFile(somaxconnFile, 'utf8').catch(() => undefined)
  const cap = Number(text?.trim())
  return Number.isInteger(cap) && cap > 0 ? cap : FALLBACK_BACKLOG
}
