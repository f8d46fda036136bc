// Resolution of server configurations (src/hub/provisioning/resolve.ts): placeholders, defaults,
// built-ins, the merged environment, and shell quoting proven against a real /bin/sh with values
// that would run commands if they were not quoted.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import t from 'tap'
import { MAX_CONFIG_BYTES, placeholders, resolveConfig, shellQuote, variableValues } from '../../../src/hub/provisioning/resolve.ts'
import { checkTemplate } from '../../../src/hub/provisioning/template.ts'
import { DEFAULT_AUTO_RESTART, type ServerSettings, type Template } from '../../../src/hub/provisioning/types.ts'

const sh = (line: string): string => execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8', env: {} })

const template = (over: Partial<Template> = {}): Template => ({
  startup: 'java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}} nogui',
  stop: { type: 'command', value: 'stop', graceS: 30 },
  doneRegex: '\\)! For help, type ',
  install: null,
  variables: [{ name: 'SERVER_JARFILE', default: 'server.jar', description: 'jar', required: true }],
  ...over
})
const server = (over: Partial<ServerSettings> = {}): ServerSettings => ({
  id: '5b0e8c8e-2f0a-4c43-9d7a-3b2f1f0c9a01', name: 'mc', port: 25565, environment: {}, memoryLimitMb: 2048, autoRestart: DEFAULT_AUTO_RESTART, configRevision: 3, ...over
})

t.test('placeholders are found in order; text that only looks like one is left alone', async t => {
  t.same(placeholders('a {{X}} b {{Y_1}} {X} {{X}}'), ['X', 'Y_1', 'X'])
  t.same(placeholders('no placeholders {{ here'), [])
})

t.test('shell quoting keeps hostile values literal in /bin/sh', async t => {
  const hostile = [
    '$(rm -rf /)', '`rm -rf /`', "it's", "'; rm -rf / #", '"double" quotes', 'a\nnewline\nor two', '$HOME $' + '{PATH} $0',
    'back\\slash\\', '*', '; echo pwned', '&& echo pwned', '| cat /etc/passwd', '', "''", "\\'", 'tab\there', '!event', '~root'
  ]
  for (const value of hostile) t.equal(sh(`printf %s ${shellQuote(value)}`), value, JSON.stringify(value))
  t.equal(shellQuote("it's"), "'it'\\''s'")
})

t.test('resolution: server environment, else default; built-ins; merged environment', async t => {
  const r = resolveConfig(server(), template())
  if (!r.ok) throw new Error(r.message)
  t.equal(r.value.startup, "java -Xms128M -Xmx'2048'M -jar 'server.jar' nogui")
  t.equal(sh(`printf '%s|' ${r.value.startup.slice('java '.length)}`), '-Xms128M|-Xmx2048M|-jar|server.jar|nogui|', 'the shell sees the intended words')
  t.same(r.value.environment, { SERVER_JARFILE: 'server.jar', SERVER_PORT: '25565' }, 'variables + SERVER_PORT; nothing else')
  t.match(r.value, { type: 'server.config', serverId: server().id, revision: 3, name: 'mc', port: 25565, stop: { type: 'command', value: 'stop', graceS: 30 }, doneRegex: '\\)! For help, type ', memoryLimitMb: 2048, autoRestart: DEFAULT_AUTO_RESTART })
  t.notOk('install' in r.value, 'no install script: the field is absent')

  const own = resolveConfig(server({ environment: { SERVER_JARFILE: 'paper 1.21.jar' }, memoryLimitMb: null }), template())
  if (!own.ok) throw new Error(own.message)
  t.equal(own.value.startup, "java -Xms128M -Xmx'1024'M -jar 'paper 1.21.jar' nogui", 'SERVER_MEMORY defaults to 1024 without a limit; a value with a space stays one word')
  t.notOk('memoryLimitMb' in own.value)
})

t.test('hostile environment values resolve to one literal argument each', async t => {
  const tpl = template({ startup: 'printf "%s|" {{A}} {{B}} {{C}}', variables: ['A', 'B', 'C'].map(name => ({ name, description: '', required: true })) })
  const env = { A: '$(touch /tmp/pwned-by-provision-test)', B: "x'; echo injected; '", C: 'line1\nline2' }
  const r = resolveConfig(server({ environment: env }), tpl)
  if (!r.ok) throw new Error(r.message)
  t.equal(sh(r.value.startup), `${env.A}|${env.B}|${env.C}|`)
  t.notOk(existsSync('/tmp/pwned-by-provision-test'), 'the command substitution never ran')
  t.same(r.value.environment, { ...env, SERVER_PORT: '25565' }, 'the environment carries the raw values')
})

t.test('missing and empty required values name the field', async t => {
  const tpl = template({ variables: [{ name: 'SERVER_JARFILE', description: '', required: true }] })
  t.match(resolveConfig(server(), tpl), { ok: false, field: 'environment.SERVER_JARFILE', message: /required/ })
  t.match(variableValues({ environment: { SERVER_JARFILE: '' } }, template()), { ok: false, field: 'environment.SERVER_JARFILE', message: /empty/ })
  const optional = template({ variables: [{ name: 'SERVER_JARFILE', default: 'x.jar', description: '', required: false }] })
  t.same(variableValues({ environment: { SERVER_JARFILE: '' } }, optional), { ok: true, value: { SERVER_JARFILE: '' } }, 'an optional variable may be empty')
  t.same(variableValues({ environment: { OTHER: 'x', toString: 'y' } as Record<string, string> }, optional), { ok: true, value: { SERVER_JARFILE: 'x.jar' } }, 'undeclared keys are ignored; no prototype lookups')
})

t.test('a placeholder that names nothing is refused, not left for the shell', async t => {
  t.match(resolveConfig(server(), template({ startup: 'run {{NOPE}}' })), { ok: false, field: 'startup', message: /NOPE/ })
  t.match(resolveConfig(server(), template({ startup: 'run {{constructor}}' })), { ok: false, field: 'startup' })
})

t.test('a configuration larger than one frame is refused', async t => {
  const r = resolveConfig(server({ environment: { SERVER_JARFILE: "'".repeat(20_000) } }), template())
  t.match(r, { ok: false, field: 'environment', message: new RegExp(`at most ${MAX_CONFIG_BYTES}`) })
})

t.test('templates: defaults, and every refusal names its field', async t => {
  const ok = checkTemplate({ startup: 'run {{A}} {{SERVER_PORT}}', variables: [{ name: 'A' }, { name: 'B', default: 'b' }, { name: 'C', default: 'c', required: true }] })
  t.same(ok, {
    ok: true,
    value: {
      startup: 'run {{A}} {{SERVER_PORT}}',
      stop: { type: 'signal', value: 'SIGTERM', graceS: 30 },
      doneRegex: null,
      install: null,
      variables: [{ name: 'A', description: '', required: true }, { name: 'B', default: 'b', description: '', required: false }, { name: 'C', default: 'c', description: '', required: true }]
    }
  })
  const cases: Array<[Parameters<typeof checkTemplate>[0], string, RegExp]> = [
    [{ startup: 'run {{MISSING}}' }, 'startup', /unknown placeholder \{\{MISSING\}\}/],
    [{ startup: 'run {{ A }}', variables: [{ name: 'A' }] }, 'startup', /unknown placeholder/],
    [{ startup: '   ' }, 'startup', /blank/],
    [{ startup: 'x', doneRegex: '(unclosed' }, 'doneRegex', /does not compile/],
    [{ startup: 'x', stop: { type: 'signal', value: 'SIGKILL' } }, 'stop.value', /SIGINT/],
    [{ startup: 'x', stop: { type: 'command', value: 'stop\nrm -rf /' } }, 'stop.value', /one line/],
    [{ startup: 'x', stop: { type: 'command', value: '' } }, 'stop.value', /1-256/],
    [{ startup: 'x', stop: { type: 'command', value: 'stop', graceS: 0 } }, 'stop.graceS', /1 to 3600/],
    [{ startup: 'x', stop: { type: 'exec', value: 'x' } }, 'stop.type', /command/],
    [{ startup: 'x', variables: [{ name: 'lower' }] }, 'variables[0].name', /must match/],
    [{ startup: 'x', variables: [{ name: 'A' }, { name: 'A' }] }, 'variables[1].name', /twice/],
    [{ startup: 'x', variables: [{ name: 'SERVER_PORT' }] }, 'variables[0].name', /reserved/],
    [{ startup: 'x', variables: [{ name: 'PATH', default: '/' }] }, 'variables[0].name', /reserved/],
    [{ startup: 'x', variables: [{ name: 'A', default: '', required: true }] }, 'variables[0].default', /empty/]
  ]
  for (const [input, field, message] of cases) t.match(checkTemplate(input), { ok: false, field, message }, JSON.stringify(input))
})
