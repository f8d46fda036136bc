// The crash-loop guard of `autoRestart`: at most maxRestarts automatic restarts within windowS
// seconds; past that the server stays CRASHED until someone starts it.
import type { ServerConfig } from './types.ts'

export interface RestartDecision {
  restart: boolean
  /** The restart times still inside the window, plus now when restarting: persist these. */
  history: number[]
  /** Appended to the crash reason when the guard refuses. */
  note?: string
}

export function decideRestart (policy: ServerConfig['autoRestart'] | undefined, history: readonly number[], nowMs: number): RestartDecision {
  if (policy === undefined || !policy.enabled) return { restart: false, history: [] }
  const recent = history.filter((t) => t > nowMs - policy.windowS * 1000 && t <= nowMs)
  if (recent.length >= policy.maxRestarts) {
    return {
      restart: false,
      history: recent,
      note: `crash loop: ${recent.length} automatic restarts within ${policy.windowS} s, not restarting`
    }
  }
  return { restart: true, history: [...recent, nowMs] }
}
