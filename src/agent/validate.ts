// Shapes coming from outside the agent's memory: a hub's server.config (untrusted), and the
// agent's own files read back after a restart (possibly damaged). Neither may crash the agent.
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { AGENT_STATUSES } from '../agent-protocol/index.ts'
import { isServerId } from './paths.ts'
import type { ServerConfig, ServerRecord } from './types.ts'

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const

const ConfigSchema = Type.Object({
  serverId: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
  revision: Type.Integer({ minimum: 1 }),
  name: Type.String({ maxLength: 256 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  startup: Type.String({ minLength: 1, maxLength: 65_536 }),
  stop: Type.Union([
    Type.Object({ type: Type.Literal('command'), value: Type.String({ maxLength: 256, pattern: '^[^\\r\\n]*$' }), graceS: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })) }),
    Type.Object({ type: Type.Literal('signal'), value: Type.Enum(STOP_SIGNALS), graceS: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })) })
  ]),
  doneRegex: Type.Optional(Type.String({ maxLength: 4096 })),
  install: Type.Optional(Type.String({ maxLength: 1_048_576 })),
  environment: Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 65_536 })),
  memoryLimitMb: Type.Optional(Type.Integer({ minimum: 1 })),
  autoRestart: Type.Object({
    enabled: Type.Boolean(),
    maxRestarts: Type.Integer({ minimum: 0, maximum: 1000 }),
    windowS: Type.Integer({ minimum: 1, maximum: 86_400 })
  })
})
const configCheck = Compile(ConfigSchema)

export function validateServerConfig (raw: unknown): { config: ServerConfig, reason?: undefined } | { config?: undefined, reason: string } {
  if (!configCheck.Check(raw)) {
    const e = configCheck.Errors(raw)[0]
    return { reason: e === undefined ? 'invalid server.config' : `${e.instancePath || '/'}: ${e.message}` }
  }
  const r = raw as ServerConfig
  const config: ServerConfig = {
    serverId: r.serverId,
    revision: r.revision,
    name: r.name,
    port: r.port,
    startup: r.startup,
    stop: { type: r.stop.type, value: r.stop.value, ...(r.stop.graceS === undefined ? {} : { graceS: r.stop.graceS }) },
    environment: { ...r.environment },
    autoRestart: { enabled: r.autoRestart.enabled, maxRestarts: r.autoRestart.maxRestarts, windowS: r.autoRestart.windowS }
  }
  if (r.doneRegex !== undefined) config.doneRegex = r.doneRegex
  if (r.install !== undefined) config.install = r.install
  if (r.memoryLimitMb !== undefined) config.memoryLimitMb = r.memoryLimitMb
  return { config }
}

const RecordSchema = Type.Object({
  serverId: Type.String(),
  status: Type.Enum(AGENT_STATUSES),
  seq: Type.Integer({ minimum: 0 }),
  outbox: Type.Array(Type.Object({
    seq: Type.Integer({ minimum: 1 }),
    status: Type.Enum(AGENT_STATUSES),
    at: Type.String(),
    reason: Type.Optional(Type.String())
  })),
  process: Type.Optional(Type.Object({
    pid: Type.Integer({ minimum: 2 }),
    startTime: Type.Integer({ minimum: 0 }),
    kind: Type.Enum(['game', 'install']),
    startedAtMs: Type.Number(),
    stop: Type.Optional(Type.Object({
      kind: Type.Enum(['stop', 'kill', 'restart', 'remove', 'memory']),
      atMs: Type.Number(),
      reason: Type.Optional(Type.String())
    }))
  })),
  restarts: Type.Array(Type.Number())
})
const recordCheck = Compile(RecordSchema)

export function validateRecord (raw: unknown, serverId: string): ServerRecord | undefined {
  if (!isServerId(serverId) || !recordCheck.Check(raw)) return undefined
  const record = raw as ServerRecord
  return record.serverId === serverId ? record : undefined
}
