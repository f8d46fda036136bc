// Delivery of server configurations to agents (PROTOCOL.md 1.1 "Server configuration"), to
// sessions whose `welcome.features` include `provision`. Part of the realtime core: no Fastify,
// no ws; sessions are reached through `ProvisionTarget`.
//
// At-least-once and durable, without a queue: the database holds each server's `configRevision`
// and the revision its agent last acknowledged, so
//   1. after `welcome` (before pending commands), every server of the node whose hello revision
//      is absent or differs gets `server.config`, and every hello entry not on the node
//      `server.removed` (so a change made while the agent was offline arrives on reconnect);
//   2. a committed change NOTIFYs hub_provision (config-writes.ts, the delete route): the hub that
//      holds the node's connection, whichever it is, sends the new configuration or the removal;
//   3. every `resendMs`, configurations of held nodes not yet acknowledged at their revision go
//      out again: this covers a lost notification (listener redial) and an agent that dropped one.
// `server.config.ack` records the acknowledged revision (stale ones change nothing).
import type pg from 'pg'
import type { HelloMessage, HubMessage } from '../../agent-protocol/index.ts'
import { configsOfAlt, configsOfNodes, configsOfServers, recordConfigAcks, unackedConfigs, type ConfigRow, type ProvisionChange } from '../../db/sql/provision.ts'
import { resolveConfig } from '../provisioning/resolve.ts'

export const PROVISION = 'provision'

export interface ProvisionTarget {
  readonly nodeId: string
  hasFeature (feature: string): boolean
  sendFeature (feature: string, msg: HubMessage): void
}

export interface ProvisioningDeps {
  pool: pg.Pool
  /** This hub's ready session of the node, if any. */
  session: (nodeId: string) => ProvisionTarget | undefined
  /** Nodes whose connection this hub holds. */
  held: () => string[]
  /** Every server of these nodes (a batched lookup: hellos come in storms). */
  configsOfNodes?: (nodeId: string) => Promise<ConfigRow[]>
  log: { warn (obj: object, msg: string): void }
}

export interface Provisioning {
  /** Right after `welcome`: what the agent lacks, and removals of what it should not have. */
  nodeReady (target: ProvisionTarget, hello: HelloMessage): Promise<void>
  /** A change committed on some hub (hub_provision). */
  onChange (change: ProvisionChange): Promise<void>
  /** Sends again every configuration of held nodes not acknowledged at its revision. */
  resendUnacked (): Promise<void>
  ack (nodeId: string, ack: { serverId: string, revision: number }): Promise<'applied' | 'stale' | 'unknown'>
}

export function createProvisioning (deps: ProvisioningDeps): Provisioning {
  const { pool, log } = deps
  const ofNode = deps.configsOfNodes ?? (async (nodeId: string) => await configsOfNodes(pool, [nodeId]))

  const target = (nodeId: string) => {
    const t = deps.session(nodeId)
    return t?.hasFeature(PROVISION) === true ? t : undefined
  }

  function sendConfig (t: ProvisionTarget, row: ConfigRow): void {
    const resolved = resolveConfig(row, { startup: row.startup, stop: row.stop, doneRegex: row.doneRegex, install: row.install, variables: row.variables })
    // Writes are checked before commit, so this only happens to rows written around the checks
    // (by hand, or by an older hub): the agent keeps what it has; the operator must fix the server.
    if (!resolved.ok) {
      log.warn({ serverId: row.id, field: resolved.field, problem: resolved.message }, 'server configuration does not resolve; not sent')
      return
    }
    t.sendFeature(PROVISION, resolved.value as HubMessage)
  }

  const sendRows = (rows: ConfigRow[]) => {
    for (const row of rows) {
      const t = target(row.nodeId)
      if (t !== undefined) sendConfig(t, row)
    }
  }

  return {
    async nodeReady (t, hello) {
      if (!t.hasFeature(PROVISION)) return
      const rows = await ofNode(t.nodeId)
      const running = new Map(hello.servers.map(s => [s.serverId, s.configRevision]))
      const mine = new Set(rows.map(r => r.id))
      for (const s of hello.servers) if (!mine.has(s.serverId)) t.sendFeature(PROVISION, { type: 'server.removed', serverId: s.serverId })
      const current: Array<{ serverId: string, revision: number }> = []
      for (const row of rows) {
        const revision = running.get(row.id)
        if (revision === row.configRevision) {
          // The agent runs the current revision: record it, or the resend would repeat it forever.
          if (row.configAckedRevision !== revision) current.push({ serverId: row.id, revision })
        } else sendConfig(t, row)
      }
      if (current.length > 0) await recordConfigAcks(pool, t.nodeId, current)
    },

    async onChange (change) {
      if (change.kind === 'removed') {
        target(change.nodeId)?.sendFeature(PROVISION, { type: 'server.removed', serverId: change.serverId })
        return
      }
      if (change.kind === 'server') {
        if (target(change.nodeId) !== undefined) sendRows(await configsOfServers(pool, [change.serverId]))
        return
      }
      const nodes = deps.held().filter(n => target(n) !== undefined)
      if (nodes.length > 0) sendRows(await configsOfAlt(pool, change.altId, nodes))
    },

    async resendUnacked () {
      const nodes = deps.held().filter(n => target(n) !== undefined)
      if (nodes.length > 0) sendRows(await unackedConfigs(pool, nodes))
    },

    async ack (nodeId, ack) {
      const outcome = await recordConfigAcks(pool, nodeId, [ack])
      return outcome.get(ack.serverId) ?? 'unknown'
    }
  }
}
