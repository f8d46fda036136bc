// Writes of server configurations and templates, each in one transaction that checks the
// result against the template (every refusal a 400 naming the field), bumps the revision and
// notifies every hub (src/db/sql/provision.ts), so the node's agent gets the new configuration
// from whichever hub holds it.
//
// Races: a server is written under a share lock on its template, a template under an update
// lock; so a template change and a server change never both pass their checks against the other's
// old state (a required variable added while a server drops its value, say).
import type { AltRepository, AltWrite, PublicAlt } from '../../db/alts.ts'
import { templateOf } from '../../db/alts.ts'
import { DomainError } from '../../db/domain-errors.ts'
import type { PrismaClient } from '../../db/generated/client.ts'
import type { PublicServer, ServerConfigFields, ServerRepository } from '../../db/servers.ts'
import { notifyProvision } from '../../db/sql/provision.ts'
import { resolveConfig } from './resolve.ts'
import { checkTemplate, type TemplateInput } from './template.ts'
import { DEFAULT_AUTO_RESTART, type AutoRestart, type FieldProblem, type ServerSettings } from './types.ts'

/** A 400 whose body names the field: `{error: {code: 'BAD_REQUEST', field, message}}`. */
export const fieldError = (problem: FieldProblem): Error => new DomainError('BAD_REQUEST', problem.message, { field: problem.field })

export interface ServerConfigInput {
  environment?: Record<string, string>
  memoryLimitMb?: number | null
  autoRestart?: { enabled: boolean, maxRestarts?: number, windowS?: number }
}

export interface NewServer extends ServerConfigInput { name: string, nodeId: string, altId: string, ownerId: string, port: number }
export interface ServerPatch extends ServerConfigInput { name?: string }
export interface AltPatch extends Partial<Omit<AltWrite, 'stop' | 'variables'>> {
  stop?: TemplateInput['stop']
  variables?: TemplateInput['variables']
}

const autoRestartOf = (input: ServerConfigInput['autoRestart'], base: AutoRestart = DEFAULT_AUTO_RESTART): AutoRestart | undefined =>
  input === undefined ? undefined : { enabled: input.enabled, maxRestarts: input.maxRestarts ?? base.maxRestarts, windowS: input.windowS ?? base.windowS }

/** Refuses what the server would run with this template: undeclared variables, unresolvable lines. */
function checkServer (settings: ServerSettings, alt: PublicAlt): void {
  const template = templateOf(alt)
  const declared = new Set(template.variables.map(v => v.name))
  for (const name of Object.keys(settings.environment)) {
    if (!declared.has(name)) throw fieldError({ field: `environment.${name}`, message: `environment.${name}: not a variable of template ${alt.name}` })
  }
  const resolved = resolveConfig(settings, template)
  if (!resolved.ok) throw fieldError(resolved)
}

export function createConfigWrites (prisma: PrismaClient, repos: { servers: ServerRepository, alts: AltRepository }) {
  const { servers, alts } = repos
  return {
    /** 409 for a taken port, 400 for an unknown node or owner (the repository's domain errors). */
    async createServer (input: NewServer): Promise<PublicServer> {
      return await prisma.$transaction(async tx => {
        const alt = await alts.lock(input.altId, 'share', tx)
        if (alt === null) throw fieldError({ field: 'altId', message: 'altId: no such template' })
        const config: ServerConfigFields = {
          environment: input.environment ?? {},
          memoryLimitMb: input.memoryLimitMb ?? null,
          autoRestart: autoRestartOf(input.autoRestart) ?? DEFAULT_AUTO_RESTART
        }
        checkServer({ id: '', name: input.name, port: input.port, configRevision: 1, ...config }, alt)
        const server = await servers.create({ ...input, ...config }, tx)
        await notifyProvision(tx, { kind: 'server', serverId: server.id, nodeId: server.nodeId })
        return server
      })
    },

    /** Null when there is no such server. */
    async updateServer (id: string, patch: ServerPatch): Promise<PublicServer | null> {
      return await prisma.$transaction(async tx => {
        const current = await servers.get(id, tx)
        if (current === null) return null
        const alt = await alts.lock(current.altId, 'share', tx) as PublicAlt
        const currentAuto = current.autoRestart as unknown as AutoRestart
        const config: ServerConfigFields = {
          environment: patch.environment ?? current.environment as Record<string, string>,
          memoryLimitMb: patch.memoryLimitMb === undefined ? current.memoryLimitMb : patch.memoryLimitMb,
          autoRestart: autoRestartOf(patch.autoRestart, currentAuto) ?? currentAuto
        }
        checkServer({ id, name: patch.name ?? current.name, port: current.port, configRevision: current.configRevision + 1, ...config }, alt)
        const server = await servers.updateConfig(id, { ...(patch.name === undefined ? {} : { name: patch.name }), ...config }, tx)
        await notifyProvision(tx, { kind: 'server', serverId: id, nodeId: current.nodeId })
        return server
      })
    },

    /** 409 for a name already taken. */
    async createAlt (input: AltPatch & { name: string, image: string, startup: string }): Promise<PublicAlt> {
      const checked = checkTemplate(input)
      if (!checked.ok) throw fieldError(checked)
      return await alts.create({ name: input.name, image: input.image, ...checked.value })
    },

    /**
     * Null when there is no such template. Every server made from it must still resolve with the
     * new template (a new required variable without a default needs their values first); each
     * gets a new revision, sent to its agent.
     */
    async updateAlt (id: string, patch: AltPatch): Promise<PublicAlt | null> {
      return await prisma.$transaction(async tx => {
        const current = await alts.lock(id, 'update', tx)
        if (current === null) return null
        const merged = { ...templateOf(current), ...patch }
        const checked = checkTemplate({ ...merged, doneRegex: merged.doneRegex ?? null, install: merged.install ?? null })
        if (!checked.ok) throw fieldError(checked)
        const altName = patch.name ?? current.name
        for (const server of await alts.servers(id, tx)) {
          const resolved = resolveConfig({ ...server, configRevision: server.configRevision + 1 }, checked.value)
          if (!resolved.ok) {
            throw fieldError({ field: resolved.field.startsWith('environment.') ? 'variables' : resolved.field, message: `${resolved.message} (server ${server.name}, ${server.id}, made from template ${altName})` })
          }
        }
        const alt = await alts.update(id, { name: altName, image: patch.image ?? current.image, ...checked.value }, tx)
        await alts.bumpServers(id, tx)
        await notifyProvision(tx, { kind: 'alt', altId: id })
        return alt
      })
    }
  }
}

export type ConfigWrites = ReturnType<typeof createConfigWrites>
