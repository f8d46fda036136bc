// The dispatcher alone, with fake sessions and a fake store: what it sends, what it claims.
import t from 'tap'
import type { CommandMessage } from '../../src/agent-protocol/index.ts'
import type { ActionRow } from '../../src/db/sql/actions.ts'
import { createDispatcher, type CommandTarget } from '../../src/hub/actions/dispatcher.ts'
import type { HubEvent } from '../../src/hub/bus.ts'

const NODE = '00000000-0000-4000-8000-00000000000a'
const ELSEWHERE = '00000000-0000-4000-8000-00000000000b'

const row = (id: string, state: ActionRow['state'], nodeId = NODE): ActionRow => ({
  id, serverId: '00000000-0000-4000-8000-000000000001', nodeId, action: 'START', state, timestamp: new Date(0), expiresAt: new Date(60_000), deadlineAt: new Date(60_000), errorCode: null, errorMessage: null, input: null
})
const event = (actionId: string, state: string, nodeId = NODE): HubEvent =>
  ({ id: '1', kind: 'action.updated', serverId: null, nodeId, data: { actionId, state }, at: new Date() }) as HubEvent

function setup () {
  const sent: CommandMessage[] = []
  const claimed: string[] = []
  const target: CommandTarget = { nodeId: NODE, isReady: () => true, sendCommand: msg => { sent.push(msg) } }
  const dispatcher = createDispatcher({
    store: { dispatch: async id => { claimed.push(id); return row(id, 'DISPATCHED') } },
    session: nodeId => nodeId === NODE ? target : undefined,
    pending: async () => [],
    log: { warn () {} }
  })
  const settle = async () => await new Promise(resolve => setImmediate(resolve))
  return { dispatcher, sent, claimed, settle }
}

t.test('an action claimed at creation is sent at once, without another claim', async t => {
  const { dispatcher, sent, claimed, settle } = setup()
  dispatcher.offer([row('a1', 'DISPATCHED')])
  await settle()
  t.same(sent.map(c => c.commandId), ['a1'])
  t.same(claimed, [])
})

t.test('a QUEUED action this hub created is claimed, then sent', async t => {
  const { dispatcher, sent, claimed, settle } = setup()
  dispatcher.offer([row('a2', 'QUEUED'), row('a3', 'QUEUED', ELSEWHERE)])
  await settle()
  t.same(claimed, ['a2'], 'only for a node this hub holds')
  t.same(sent.map(c => c.commandId), ['a2'])
})

t.test('the feed: QUEUED events are claimed unless the same read already moved the action', async t => {
  const { dispatcher, claimed, settle } = setup()
  dispatcher.onEvents([event('b1', 'QUEUED'), event('b1', 'DISPATCHED'), event('b2', 'QUEUED'), event('b3', 'QUEUED', ELSEWHERE)])
  await settle()
  t.same(claimed, ['b2'])
})

t.test('holds: a ready session of the node on this hub', async t => {
  const { dispatcher } = setup()
  t.equal(dispatcher.holds(NODE), true)
  t.equal(dispatcher.holds(ELSEWHERE), false)
})
