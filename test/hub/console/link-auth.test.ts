// Console link tokens on their own (console/link-auth.ts), with an injected clock: a token opens
// one link, at the address it was sent to, for the hub it names, for the use it was signed for.
import t from 'tap'
import { createLinkAuth } from '../../../src/hub/console/link-auth.ts'

const HUB_A = '00000000-0000-4000-8000-00000000000a'
const HUB_B = '00000000-0000-4000-8000-00000000000b'
const ADDR_B = 'ws://10.0.0.2:8080'
const secret = Buffer.alloc(32, 1)

function pair () {
  let now = 1_800_000_000_000
  const clock = { now: () => now, advance: (ms: number) => { now += ms } }
  return { clock, a: createLinkAuth(secret, HUB_A, clock.now), b: createLinkAuth(secret, HUB_B, clock.now) }
}

t.test('a dial token opens one link: the same token again is refused (a copied token is no key)', async t => {
  const { a, b } = pair()
  const { token, nonce } = await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  t.same(await b.verify(token, { use: 'dial', addr: ADDR_B }), { from: HUB_A, nonce })
  t.equal(await b.verify(token, { use: 'dial', addr: ADDR_B }), undefined, 'replayed')
  const next = await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  t.same(await b.verify(next.token, { use: 'dial', addr: ADDR_B }), { from: HUB_A, nonce: next.nonce }, 'a fresh token still opens one')
})

t.test('a dial token sent to another address (a forged watch) opens nothing at the real hub', async t => {
  const { a, b } = pair()
  const { token } = await a.sign(HUB_B, { use: 'dial', addr: 'ws://203.0.113.9:8080' })
  t.equal(await b.verify(token, { use: 'dial', addr: ADDR_B }), undefined)
})

t.test('a welcome is no dial token, and a dial token no welcome', async t => {
  const { a, b } = pair()
  const dial = await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  const welcome = await b.sign(HUB_A, { use: 'welcome', nonce: dial.nonce })
  t.equal(await a.verify(welcome.token, { use: 'dial', addr: 'ws://10.0.0.1:8080' }), undefined, 'B\'s welcome (audience A) does not open a link to A')
  t.same(await a.verify(welcome.token, { use: 'welcome', nonce: dial.nonce }), { from: HUB_B, nonce: dial.nonce })
  t.equal(await a.verify(welcome.token, { use: 'welcome', nonce: 'another dial' }), undefined, 'bound to its dial')
  const reversed = await b.sign(HUB_A, { use: 'dial', addr: 'ws://10.0.0.1:8080' })
  t.equal(await a.verify(reversed.token, { use: 'welcome', nonce: reversed.nonce }), undefined, 'a dial token as a welcome')
})

t.test('tokens expire; a hub refuses its own; another secret is refused', async t => {
  const { clock, a, b } = pair()
  const { token } = await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  clock.advance(95_000)
  t.equal(await b.verify(token, { use: 'dial', addr: ADDR_B }), undefined, 'expired (60 s + 30 s of skew)')
  const own = await b.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  t.equal(await b.verify(own.token, { use: 'dial', addr: ADDR_B }), undefined, 'its own token')
  const other = await createLinkAuth(Buffer.alloc(32, 2), HUB_A, clock.now).sign(HUB_B, { use: 'dial', addr: ADDR_B })
  t.equal(await b.verify(other.token, { use: 'dial', addr: ADDR_B }), undefined, 'another secret')
  t.equal(await b.verify('x'.repeat(5_000), { use: 'dial', addr: ADDR_B }), undefined, 'too long')
})

t.test('remembered nonces are bounded and released once their tokens expire', async t => {
  const { clock, a, b } = pair()
  const tokens = await Promise.all(Array.from({ length: 10_000 }, async () => (await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })).token))
  for (const token of tokens) await b.verify(token, { use: 'dial', addr: ADDR_B })
  const full = await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  t.equal(await b.verify(full.token, { use: 'dial', addr: ADDR_B }), undefined, 'full: refused (fails closed)')
  clock.advance(121_000)
  const later = await a.sign(HUB_B, { use: 'dial', addr: ADDR_B })
  t.ok(await b.verify(later.token, { use: 'dial', addr: ADDR_B }), 'the expired ones are let go of')
})
