// Reads of actions and their events, and a raw agent that says hello with given statuses and
// features: shared by the action and console tests.
import type { Test } from 'tap'
import type { TestHub } from './hub.ts'
import { connectRaw, type RawAgent } from './raw-agent.ts'
import { waitFor } from './wait.ts'

export const action = (hub: TestHub, id: string) => hub.app.db.prisma.serverAction.findUniqueOrThrow({ where: { id } })

export const stateIs = (hub: TestHub, id: string, state: string) => waitFor(`${id} ${state}`, async () => {
  const a = await action(hub, id)
  return a.state === state ? a : undefined
})

/** The states an action's `action.updated` events carried, in log order. */
export const eventsOf = async (hub: TestHub, actionId: string) => (await hub.app.db.pool.query(
  "SELECT data FROM events WHERE kind = 'action.updated' AND data->>'actionId' = $1 ORDER BY id", [actionId])).rows.map(r => r.data.state)

/** A raw agent whose hello reports these statuses (stored as the agent's truth), with its welcome. */
export async function agentWith (t: Test, hub: TestHub, token: string, servers: Record<string, string>, features?: string[]): Promise<{ agent: RawAgent, welcome: any }> {
  const agent = await connectRaw(hub, token)
  t.teardown(() => agent.close())
  agent.send({
    type: 'hello',
    protocol: 1,
    agentVersion: 'raw',
    ...(features === undefined ? {} : { features }),
    servers: Object.entries(servers).map(([serverId, status]) => ({ serverId, status, seq: 1 }))
  })
  return { agent, welcome: await agent.next('welcome') }
}

/** POSTs an action as `token` and waits (`ms`: real agents run real processes) until it is final; resolves with the action as GET /api/actions/:id shows it. */
export async function act (hub: TestHub, token: string, serverId: string, body: Record<string, unknown>, ms = 30_000) {
  const res = await hub.request('POST', `/api/servers/${serverId}/actions`, { token, body })
  if (res.status !== 202) throw new Error(`${String(body.action)}: ${res.status} ${JSON.stringify(res.body)}`)
  return await waitFor(`${String(body.action)} to finish`, async () => {
    const a = (await hub.request('GET', `/api/actions/${res.body.actionId as string}`, { token })).body
    return ['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'].includes(a.state) ? a : undefined
  }, ms, 50)
}
