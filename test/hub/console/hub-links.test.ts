// The console link pool on its own (console/hub-links.ts), with a fake clock, fake sockets and
// real tokens: how many links untrusted watches can make it dial, and how often it dials a link
// that keeps closing.
import t from 'tap'
import { createLinkPool, type DialEvents } from '../../../src/hub/console/hub-links.ts'
import { createLinkAuth } from '../../../src/hub/console/link-auth.ts'
import { createFakeClock } from '../../helpers/fake-clock.ts'
import { createFakeTransport } from '../../helpers/fake-transport.ts'
import { waitFor } from '../../helpers/wait.ts'

const HUB_A = '00000000-0000-4000-8000-00000000000a'
const HUB_B = '00000000-0000-4000-8000-00000000000b'
const ADDR_B = 'ws://10.0.0.2:8080'
const secret = Buffer.alloc(32, 1)
const limits = { heartbeatMs: 60_000, ratePerSecond: 5_000, burst: 5_000, maxBadFrames: 20, maxLimitedFrames: 1_000, maxBufferedBytes: 2 * 1024 * 1024, ephemeralBytes: 1024 * 1024 }
/** Tokens are signed and checked off the main thread: wait for the dials they start. */
const dialsReach = async (dials: unknown[], n: number) => await waitFor(`${n} dials`, async () => dials.length >= n, 2_000, 1)
const hubId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`

function poolOf (maxLinks?: number) {
  const clock = createFakeClock(Date.now())
  const dials: Array<{ url: string, headers: Record<string, string>, events: DialEvents }> = []
  const warnings: string[] = []
  const aborted: string[] = []
  // Every dial signs its token first, at once: counting the signatures counts the dials started,
  // with nothing to wait for (the dial itself follows once the token is signed).
  const auth = createLinkAuth(secret, HUB_A, clock.now)
  const signed = { n: 0 }
  const pool = createLinkPool({
    auth: { ...auth, sign: async (to, use) => { signed.n++; return await auth.sign(to, use) } },
    dial: (url, headers, events) => { dials.push({ url, headers, events }); return () => { aborted.push(url) } },
    limits,
    now: clock.now,
    setTimer: clock.setTimer,
    maxLinks,
    log: { warn: (obj, msg) => { warnings.push(`${msg} ${JSON.stringify(obj)}`) } }
  })
  t.teardown(() => pool.closeAll())
  return { clock, dials, warnings, aborted, signed, pool }
}

t.test('hub ids from watches are untrusted: at most maxLinks links, one warning, the others by NOTIFY', async t => {
  const { dials, warnings, signed, pool } = poolOf(3)
  for (let i = 1; i <= 100; i++) t.equal(pool.state(hubId(i), `ws://10.0.1.${i}:8080`), i <= 3 ? 'connecting' : 'down')
  t.equal(signed.n, 3, 'three dials started, not a hundred')
  await dialsReach(dials, 3)
  t.equal(warnings.filter(w => w.includes('too many hubs')).length, 1, 'said once')
  pool.retain(new Set([hubId(1)]))
  t.equal(pool.state(hubId(50), 'ws://10.0.1.50:8080'), 'connecting', 'room again once links are let go of')
})

t.test('a link the peer closes right after its welcome is dialled ever more slowly, not every second', async t => {
  const { clock, dials, pool } = poolOf()
  const b = createLinkAuth(secret, HUB_B, clock.now)
  let handled = 0
  const attemptsIn = async (ms: number) => {
    const before = handled
    for (let elapsed = 0; elapsed < ms; elapsed += 500) {
      if (pool.state(HUB_B, ADDR_B) === 'connecting') {
        await dialsReach(dials, handled + 1)
        const dial = dials[handled++]!
        // The peer opens, proves itself, then closes at once (it refuses what it is sent).
        const nonce = JSON.parse(Buffer.from(dial.headers.authorization!.split('.')[1]!, 'base64url').toString()).nonce as string
        dial.events.onOpen(createFakeTransport())
        dial.events.onFrame(Buffer.from(JSON.stringify({ type: 'link.welcome', token: (await b.sign(HUB_A, { use: 'welcome', nonce })).token, maxFrameBytes: 65_536 })), false)
        await waitFor('the link opens', async () => pool.open === 1, 2_000, 1)
        dial.events.onClose()
      }
      clock.advance(500)
    }
    return handled - before
  }
  const n = await attemptsIn(60_000)
  t.ok(n <= 6, `${n} dials in a minute (1, 2, 4, 8, 16, 30 s apart), not 60`)
})

t.test('a dial still upgrading is abandoned at once: when its hub is let go of, at shutdown, and when no welcome comes in time', async t => {
  const { clock, dials, aborted, pool } = poolOf()
  pool.state(hubId(1), 'ws://10.0.1.1:8080')
  pool.state(hubId(2), 'ws://10.0.1.2:8080')
  pool.state(hubId(3), 'ws://10.0.1.3:8080')
  await dialsReach(dials, 3)
  pool.retain(new Set([hubId(2), hubId(3)]))
  t.same(aborted, ['ws://10.0.1.1:8080/hub/v1/link'], 'let go of')
  clock.advance(5_000)
  t.same(aborted.length, 3, 'no welcome in time (5 s): abandoned, not left to the socket\'s handshake timeout')
  pool.state(hubId(3), 'ws://10.0.1.3:8080')
  clock.advance(1_000)
  t.equal(pool.state(hubId(3), 'ws://10.0.1.3:8080'), 'connecting', 'dialled again after the backoff')
  await dialsReach(dials, 4)
  pool.closeAll()
  t.same(aborted.at(-1), 'ws://10.0.1.3:8080/hub/v1/link', 'shutdown')
  dials.at(-1)!.events.onOpen(createFakeTransport())
  t.equal(pool.open, 0, 'a socket that opens after all is closed at once')
})

t.test('a failed dial\'s warning says why', async t => {
  const { dials, warnings, pool } = poolOf()
  pool.state(HUB_B, ADDR_B)
  await dialsReach(dials, 1)
  dials[0]!.events.onClose('Unexpected server response: 401')
  t.match(warnings.at(-1), /could not be opened.*dial failed: Unexpected server response: 401/)
})

t.test('after closeAll (shutdown) nothing is dialled, though watches and lines still arrive until the feeds stop', async t => {
  const { signed, pool } = poolOf()
  pool.closeAll()
  t.equal(pool.state(HUB_B, ADDR_B), 'down')
  t.equal(signed.n, 0, 'no dial started after shutdown (its socket\'s heartbeat would keep the process alive)')
})
