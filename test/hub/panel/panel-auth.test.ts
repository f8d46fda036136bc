// /panel/v1 authentication before the upgrade: session header, single-use tickets (also across
// hub instances), and every bad credential answered with HTTP 401 and no socket.
import t from 'tap'

import { startTestHub } from '../../helpers/hub.ts'
import { hashToken } from '../../../src/hub/tokens.ts'
import { addUser, panel, secondHub, upgradeStatus } from './fixtures.ts'

t.test('session header and ticket open the socket; bad credentials get 401', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const p = panel(hub, alice.token)
  const ready = await p.connect()
  t.equal(ready.userId, alice.id)
  t.ok(Date.parse(ready.expiresAt) > Date.now())
  t.same((await p.ping()).type, 'pong')
  p.close()

  const cases: Record<string, Record<string, string>> = {
    missing: {},
    forged: { authorization: 'Bearer ' + 'A'.repeat(43) },
    malformed: { authorization: 'Basic abc' },
    'an agent-style JWT': { authorization: 'Bearer a.b.c' }
  }
  for (const [name, headers] of Object.entries(cases)) t.equal(await upgradeStatus(hub.url, '/panel/v1', headers), 401, name)

  // Expired: the session row says so.
  const bob = await addUser(hub, 'bob')
  await hub.app.db.pool.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [hashToken(bob.token)])
  t.equal(await upgradeStatus(hub.url, '/panel/v1', { authorization: `Bearer ${bob.token}` }), 401, 'expired session')
  // Revoked: logout.
  const carol = await addUser(hub, 'carol')
  t.equal((await hub.request('POST', '/api/auth/logout', { token: carol.token })).status, 204)
  t.equal(await upgradeStatus(hub.url, '/panel/v1', { authorization: `Bearer ${carol.token}` }), 401, 'revoked session')
})

t.test('tickets: single use, 30 s, hashed, usable on another hub', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  t.equal((await hub.request('POST', '/api/ws-ticket')).status, 401, 'a ticket needs a session')
  const res = await hub.request('POST', '/api/ws-ticket', { token: alice.token })
  t.equal(res.status, 201)
  const { ticket, expiresAt } = res.body
  t.match(ticket, /^[A-Za-z0-9_-]{43}$/)
  const ttl = Date.parse(expiresAt) - Date.now()
  t.ok(ttl > 25_000 && ttl <= 30_000, `valid for 30 s (${ttl} ms left)`)
  const { rows } = await hub.app.db.pool.query('SELECT token_hash FROM ws_tickets')
  t.same(rows, [{ token_hash: hashToken(ticket) }], 'only the hash is stored')

  t.equal(await upgradeStatus(hub.url, `/panel/v1?ticket=${ticket}`), 101, 'the ticket opens a socket')
  t.equal(await upgradeStatus(hub.url, `/panel/v1?ticket=${ticket}`), 401, 'once only')
  t.equal(await upgradeStatus(hub.url, '/panel/v1?ticket=forged'), 401, 'a forged ticket')
  t.equal(await upgradeStatus(hub.url, `/panel/v1?ticket=${'x'.repeat(500)}`), 401, 'an overlong ticket')

  const expired = (await hub.request('POST', '/api/ws-ticket', { token: alice.token })).body.ticket
  await hub.app.db.pool.query("UPDATE ws_tickets SET expires_at = now() - interval '1 ms'")
  t.equal(await upgradeStatus(hub.url, `/panel/v1?ticket=${expired}`), 401, 'an expired ticket')

  const revoked = (await hub.request('POST', '/api/ws-ticket', { token: alice.token })).body.ticket
  await hub.request('POST', '/api/auth/logout', { token: alice.token })
  t.equal(await upgradeStatus(hub.url, `/panel/v1?ticket=${revoked}`), 401, 'a ticket of a revoked session')

  // Issued by hub A, consumed by hub B; then neither accepts it again.
  const bob = await addUser(hub, 'bob')
  const b = await secondHub(t, hub.databaseUrl)
  const c = panel(b, bob.token, { useTicket: true })
  t.equal((await c.connect()).userId, bob.id, 'a ticket from one hub opens a socket on another')
  c.close()
  const again = (await hub.request('POST', '/api/ws-ticket', { token: bob.token })).body.ticket
  const both = await Promise.all([upgradeStatus(hub.url, `/panel/v1?ticket=${again}`), upgradeStatus(b.url, `/panel/v1?ticket=${again}`)])
  t.same(both.toSorted(), [101, 401], 'two hubs racing for one ticket: exactly one wins')

  const refused = panel(hub, 'nope', { useTicket: false })
  const err = await refused.connect().then(() => undefined, (e: unknown) => e)
  t.match(err, { status: 401 }, 'the client reports the refusal')
})
