// Start-time warnings about a hub exposed beyond this machine while configured for a laptop.
import { isIP } from 'node:net'

/** True when `host` only listens on the loopback interface (127.0.0.0/8, ::1, localhost). */
export function isLoopback (host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h === '::1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h
  return isIP(v4) === 4 && v4.startsWith('127.')
}

/**
 * The demo seed (NODE_ENV unset or `development`) adds a demo node and servers, and without
 * HUB_ADMIN_PASSWORD an admin whose password was printed on a terminal: fine on a laptop, not on
 * an address others can reach. Returns the warning to log, or undefined.
 */
export function demoSeedWarning (config: { env: string, host: string }): string | undefined {
  if (config.env !== 'development' || isLoopback(config.host)) return undefined
  return `the development seed (demo node and servers) runs while listening on ${config.host}, which is not loopback: ` +
    'set NODE_ENV=production (and HUB_ADMIN_PASSWORD) for a hub others can reach; see the README\'s production checklist'
}
