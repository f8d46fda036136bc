// Server configuration delivery (agents/provisioning.ts): hears committed changes on the
// hub_provision channel (any hub's), resends unacknowledged configurations every 3 heartbeats,
// and hands the agent gateway the hooks of its sessions. Registered before the agent gateway,
// which decorates app.agents (read lazily here).
import fp from 'fastify-plugin'
import { configsOfNodes, PROVISION_CHANNEL, parseProvisionChange } from '../../db/sql/provision.ts'
import { createProvisioning, type Provisioning } from '../agents/provisioning.ts'
import type { Config } from '../config.ts'
import { createBatchedLookup } from '../group-commit.ts'
import { createListener } from '../pg-listener.ts'

declare module 'fastify' {
  interface FastifyInstance {
    provisioning: Provisioning
  }
}

export default fp<{ config: Config }>(async (app, { config }) => {
  const { pool } = app.db
  // After a hub restart thousands of agents say hello at once: their reads share queries.
  const ofNodes = createBatchedLookup(async (nodeIds: string[]) => {
    const rows = await configsOfNodes(pool, nodeIds)
    return new Map(nodeIds.map(id => [id, rows.filter(r => r.nodeId === id)]))
  })
  const provisioning = createProvisioning({
    pool,
    session: nodeId => app.agents.get(nodeId),
    held: () => app.agents.held().map(h => h.nodeId),
    configsOfNodes: async nodeId => await ofNodes(nodeId) ?? [],
    log: app.log
  })
  app.decorate('provisioning', provisioning)

  // Changes are applied in order, one at a time; a failure is logged and the resend repairs it.
  let chain: Promise<void> = Promise.resolve()
  const run = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch(err => app.log.warn({ err }, 'server configuration delivery failed; the resend retries'))
  }
  const listener = createListener({
    connect: () => app.db.dedicatedClient('hub-provision'),
    channel: PROVISION_CHANNEL,
    name: 'provision feed',
    onNotify: payload => {
      const change = parseProvisionChange(payload)
      if (change === undefined) return false
      run(async () => await provisioning.onChange(change))
      return true
    },
    // Notifications sent while the listener was away are lost: resend what is unacknowledged.
    onReconnect: () => run(provisioning.resendUnacked),
    log: app.log
  })
  await listener.start()
  const resend = setInterval(() => run(provisioning.resendUnacked), 3 * config.heartbeatMs)
  resend.unref()

  app.addHook('onClose', async () => {
    clearInterval(resend)
    await listener.stop()
    await chain
  })
}, { name: 'hub-provisioning', dependencies: ['hub-database'] })
