// The game's environment is the contract's minimal one (PROTOCOL.md 1.1): the server's merged
// variables plus PATH, HOME, LANG and SERVER_PORT. Nothing of the agent's own environment is
// inherited, so its token (AGENT_TOKEN) and anything else it was given never reach a game.
import type { ServerConfig } from './types.ts'

export const GAME_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export function gameEnvironment (config: ServerConfig, workDir: string): Record<string, string> {
  const env: Record<string, string> = { PATH: GAME_PATH, HOME: workDir, LANG: 'C.UTF-8' }
  for (const [name, value] of Object.entries(config.environment)) {
    // A name or value with NUL cannot be passed to execve; such entries are dropped, not fatal.
    if (NAME.test(name) && typeof value === 'string' && !value.includes('\u0000')) env[name] = value
  }
  env.SERVER_PORT = String(config.port)
  return env
}
