// Commands are delivered at least once: each commandId runs at most once, even across an agent
// restart (the log is persisted, atomically, in AGENT_DATA_DIR/commands.json). A repeat of a
// finished command gets the first outcome again; a repeat of a running one gets nothing until it
// finishes. A command that was running when the agent died is not run again: its outcome says so
// (INTERRUPTED; the server's status tells the rest).
import { readJson, writeJsonAtomic } from './store.ts'
import type { Outcome } from './types.ts'

/** Ids remembered: re-deliveries come within a reconnect or an agent restart, so this is plenty. */
const REMEMBERED = 1024

const INTERRUPTED: Outcome = {
  ok: false,
  error: { code: 'INTERRUPTED', message: 'the agent restarted while this command ran; the server status tells how it ended' }
}

export interface CommandLog {
  /** The outcome of `id`, running `fn` only the first time; null while an earlier run is in flight. */
  run (id: string, fn: () => Promise<Outcome>): Promise<Outcome> | null
  close (): void
}

export function createCommandLog (file: string, onError: (err: Error) => void = () => {}): CommandLog {
  const outcomes = new Map<string, Outcome | null>()
  const raw = readJson(file)
  if (Array.isArray(raw)) {
    for (const item of raw.slice(-REMEMBERED)) {
      if (Array.isArray(item) && typeof item[0] === 'string') {
        const o = item[1] as Outcome | null
        outcomes.set(item[0], o !== null && typeof o === 'object' && typeof o.ok === 'boolean' ? o : INTERRUPTED)
      }
    }
  }
  function persist (): void {
    try {
      writeJsonAtomic(file, [...outcomes])
    } catch (err) {
      onError(err as Error)
    }
  }

  function set (id: string, outcome: Outcome | null): void {
    outcomes.delete(id)
    outcomes.set(id, outcome)
    while (outcomes.size > REMEMBERED) outcomes.delete(outcomes.keys().next().value as string)
    // Written at once, before the command runs and after it ends: a command recorded as started is
    // never run again, and one recorded as finished answers its repeats with the same outcome.
    persist()
  }

  return {
    run (id, fn) {
      if (outcomes.has(id)) {
        const known = outcomes.get(id)
        return known === null || known === undefined ? null : Promise.resolve(known)
      }
      set(id, null)
      return fn().catch((err: unknown): Outcome => ({
        ok: false, error: { code: 'AGENT_ERROR', message: String((err as Error)?.message ?? err).slice(0, 1024) }
      })).then((outcome) => {
        set(id, outcome)
        return outcome
      })
    },
    close () {}
  }
}
