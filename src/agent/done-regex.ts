// The template's doneRegex, run against the game's output while it starts. The regex comes from
// the hub (whoever may edit templates), and a JavaScript regex can backtrack catastrophically:
// `^(a+)+$` against forty `a`s and a `!` runs for minutes, and the agent's event loop (every
// server, the hub link) would stall with it. So:
// - each line is cut to MAX_DONE_LINE_CHARS before it is matched (a readiness line is short);
// - each batch of lines is matched inside a vm script with a timeout (V8 interrupts the regex
//   engine itself when the watchdog fires), and the matching time of one start is capped too.
// Past either limit the regex is abandoned: the server counts as RUNNING, as it would without a
// doneRegex, and the status reason says why. A static check at the hub (safe-regex2) was not
// chosen as the bound: its star-height heuristic misses catastrophic patterns such as `(a|aa)*$`
// and refuses harmless ones such as `(\[\w+\] )*Done`, and the agent must defend itself from
// whatever a hub sends anyway.
import vm from 'node:vm'

/** Characters of a line the regex sees. */
export const MAX_DONE_LINE_CHARS = 1024
/** One batch of lines may take this long to match... */
export const DONE_BATCH_TIMEOUT_MS = 50
/** ...and all the matching of one start this long in total. */
export const DONE_TOTAL_BUDGET_MS = 1_000

export type DoneResult = { matched: boolean, abandoned?: undefined } | { matched: false, abandoned: string }

export interface DoneMatcher {
  readonly source: string
  /** Does any of `lines` match? Bounded in time; `abandoned` says the regex is given up. */
  test (lines: readonly string[]): DoneResult
}

// One context for every matcher: a script run only reads the two values set just before it.
const context = vm.createContext(Object.create(null) as object)
const script = new vm.Script('lines.some((line) => re.test(line.length > max ? line.slice(0, max) : line))', { filename: 'done-regex' })

/** Compiles `source` (JavaScript syntax, no flags, as the hub checks it), or says why it cannot. */
export function compileDoneRegex (source: string): { ok: true, matcher: DoneMatcher } | { ok: false, reason: string } {
  let re: RegExp
  try {
    re = new RegExp(source)
  } catch (err) {
    return { ok: false, reason: `doneRegex does not compile: ${(err as Error).message}` }
  }
  let spentMs = 0
  let gaveUp: string | undefined
  return {
    ok: true,
    matcher: {
      source,
      test (lines) {
        if (gaveUp !== undefined) return { matched: false, abandoned: gaveUp }
        if (lines.length === 0) return { matched: false }
        const started = performance.now()
        try {
          Object.assign(context, { re, lines, max: MAX_DONE_LINE_CHARS })
          const matched = script.runInContext(context, { timeout: DONE_BATCH_TIMEOUT_MS }) === true
          spentMs += performance.now() - started
          if (!matched && spentMs > DONE_TOTAL_BUDGET_MS) {
            gaveUp = `doneRegex abandoned: matching the output took over ${DONE_TOTAL_BUDGET_MS} ms in all`
            return { matched: false, abandoned: gaveUp }
          }
          return { matched }
        } catch (err) {
          const timedOut = (err as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT'
          gaveUp = timedOut
            ? `doneRegex abandoned: matching one batch of output took over ${DONE_BATCH_TIMEOUT_MS} ms (catastrophic backtracking?)`
            : `doneRegex abandoned: ${(err as Error).message}`
          return { matched: false, abandoned: gaveUp }
        } finally {
          Object.assign(context, { re: undefined, lines: undefined })
        }
      }
    }
  }
}
