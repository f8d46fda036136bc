// Resolution of a server's configuration: the template's startup line with every `{{NAME}}`
// replaced, the merged environment, and the `server.config` frame the agent receives.
//
// Values are inserted shell-quoted: the agent runs the line with `/bin/sh -c`, and a value is
// data, never shell syntax. Single quotes keep everything literal in POSIX sh (no `$`, backquote,
// backslash or newline is special inside them); the only character they cannot hold is the
// single quote itself, written as '\'' (close, an escaped quote, reopen). A placeholder written
// inside the template's own quotes would break out of them, so templates use placeholders bare:
// `-jar {{SERVER_JARFILE}}`, never `-jar "{{SERVER_JARFILE}}"`.
import {
  DEFAULT_SERVER_MEMORY_MB, VARIABLE_NAME,
  type Checked, type ServerConfigFrame, type ServerSettings, type Template
} from './types.ts'

/**
 * The largest `server.config` frame the hub sends (bytes of JSON): below the agent protocol's
 * default 64 KiB frame limit with room to spare. Larger configurations are refused at the REST
 * layer, so a stored configuration always fits in one frame.
 */
export const MAX_CONFIG_BYTES = 48 * 1024

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g

export const shellQuote = (value: string): string => `'${value.replaceAll("'", "'\\''")}'`

/** The names of the placeholders of a command line, in order (duplicates kept). */
export function placeholders (line: string): string[] {
  return [...line.matchAll(PLACEHOLDER)].map(m => m[1] as string)
}

const problem = (field: string, message: string) => ({ ok: false as const, field, message: `${field}: ${message}` })

/**
 * Every variable's value: the server's environment, else the variable's default. Refuses a
 * required variable without a value, or with an empty one.
 */
export function variableValues (server: Pick<ServerSettings, 'environment'>, template: Pick<Template, 'variables'>): Checked<Record<string, string>> {
  const values: Record<string, string> = {}
  for (const v of template.variables) {
    const value = Object.hasOwn(server.environment, v.name) ? server.environment[v.name] : v.default
    if (value === undefined) return problem(`environment.${v.name}`, 'is required by the template and has no default')
    if (value === '' && v.required) return problem(`environment.${v.name}`, 'is required and may not be empty')
    values[v.name] = value
  }
  return { ok: true, value: values }
}

/** The configuration the agent runs: startup resolved, environment merged. */
export function resolveConfig (server: ServerSettings, template: Template): Checked<ServerConfigFrame> {
  const values = variableValues(server, template)
  if (!values.ok) return values
  const builtIns: Record<string, string> = {
    SERVER_PORT: String(server.port),
    SERVER_MEMORY: String(server.memoryLimitMb ?? DEFAULT_SERVER_MEMORY_MB)
  }
  let unknown: string | undefined
  const startup = template.startup.replaceAll(PLACEHOLDER, (match, name: string) => {
    const value = Object.hasOwn(values.value, name) ? values.value[name] : Object.hasOwn(builtIns, name) ? builtIns[name] : undefined
    if (value === undefined || !VARIABLE_NAME.test(name)) {
      unknown ??= name
      return match
    }
    return shellQuote(value)
  })
  if (unknown !== undefined) return problem('startup', `unknown placeholder {{${unknown}}}`)

  const frame: ServerConfigFrame = {
    type: 'server.config',
    serverId: server.id,
    revision: server.configRevision,
    name: server.name,
    port: server.port,
    startup,
    stop: template.stop,
    ...(template.doneRegex === null ? {} : { doneRegex: template.doneRegex }),
    ...(template.install === null ? {} : { install: template.install }),
    // The game's environment: the variables and SERVER_PORT; the agent adds PATH, HOME and LANG.
    environment: { ...values.value, SERVER_PORT: builtIns.SERVER_PORT as string },
    ...(server.memoryLimitMb === null ? {} : { memoryLimitMb: server.memoryLimitMb }),
    autoRestart: server.autoRestart
  }
  const bytes = Buffer.byteLength(JSON.stringify(frame))
  if (bytes > MAX_CONFIG_BYTES) return problem('environment', `the resolved configuration is ${bytes} bytes of JSON; at most ${MAX_CONFIG_BYTES}`)
  return { ok: true, value: frame }
}
