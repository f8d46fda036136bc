// Template checks beyond the shape that the routes' schemas already enforce: variables
// (names, duplicates, reserved names), the stop method, the readiness regex, and placeholders
// that name nothing. Pure, so that the REST routes and the tests share one definition.
import { placeholders } from './resolve.ts'
import {
  BUILT_INS, DEFAULT_GRACE_S, RESERVED_NAMES, STOP_SIGNALS, VARIABLE_NAME,
  type Checked, type StopSpec, type Template, type Variable
} from './types.ts'

export interface TemplateInput {
  startup: string
  stop?: { type: string, value: string, graceS?: number }
  doneRegex?: string | null
  install?: string | null
  variables?: Array<{ name: string, default?: string, description?: string, required?: boolean }>
}

/** The stop a template gets when it names none. */
export const DEFAULT_STOP: StopSpec = { type: 'signal', value: 'SIGTERM', graceS: DEFAULT_GRACE_S }

const problem = (field: string, message: string) => ({ ok: false as const, field, message: `${field}: ${message}` })

export function checkTemplate (input: TemplateInput): Checked<Template> {
  const variables: Variable[] = []
  const seen = new Set<string>()
  for (const [i, v] of (input.variables ?? []).entries()) {
    const field = `variables[${i}].name`
    if (!VARIABLE_NAME.test(v.name)) return problem(field, `${JSON.stringify(v.name)} must match ${VARIABLE_NAME.source}`)
    if (RESERVED_NAMES.has(v.name)) return problem(field, `${v.name} is reserved (built-in or set by the agent)`)
    if (seen.has(v.name)) return problem(field, `${v.name} is declared twice`)
    seen.add(v.name)
    // A variable without a default is required whatever `required` says: nothing could fill it.
    const required = v.default === undefined || v.required === true
    if (v.default === '' && required) return problem(`variables[${i}].default`, `${v.name} is required, so its default may not be empty`)
    variables.push({ name: v.name, ...(v.default === undefined ? {} : { default: v.default }), description: v.description ?? '', required })
  }

  const stop = checkStop(input.stop)
  if (!stop.ok) return stop

  const doneRegex = input.doneRegex ?? null
  if (doneRegex !== null) {
    try {
      // The agent compiles it the same way (JavaScript syntax, no flags).
      RegExp(doneRegex)
    } catch (err) {
      return problem('doneRegex', `does not compile: ${(err as Error).message}`)
    }
  }

  if (input.startup.trim() === '') return problem('startup', 'must not be blank')
  const known = new Set<string>([...BUILT_INS, ...seen])
  for (const name of placeholders(input.startup)) {
    if (!known.has(name)) return problem('startup', `unknown placeholder {{${name}}}: declare it in variables or use a built-in (${BUILT_INS.join(', ')})`)
  }

  return { ok: true, value: { startup: input.startup, stop: stop.value, doneRegex, install: input.install ?? null, variables } }
}

function checkStop (stop: TemplateInput['stop']): Checked<StopSpec> {
  if (stop === undefined) return { ok: true, value: DEFAULT_STOP }
  const graceS = stop.graceS ?? DEFAULT_GRACE_S
  if (!Number.isInteger(graceS) || graceS < 1 || graceS > 3_600) return problem('stop.graceS', 'must be an integer from 1 to 3600')
  if (stop.type === 'command') {
    if (stop.value === '' || stop.value.length > 256) return problem('stop.value', 'a stop command has 1-256 characters')
    if (/[\r\n]/.test(stop.value)) return problem('stop.value', 'a stop command is one line (no CR or LF)')
    return { ok: true, value: { type: 'command', value: stop.value, graceS } }
  }
  if (stop.type === 'signal') {
    if (!(STOP_SIGNALS as readonly string[]).includes(stop.value)) return problem('stop.value', `a stop signal is one of ${STOP_SIGNALS.join(', ')}`)
    return { ok: true, value: { type: 'signal', value: stop.value, graceS } }
  }
  return problem('stop.type', 'must be "command" or "signal"')
}
