// The console link pool on its own (console/hub-links.ts), with a fake clock, fake sockets and
// real tokens: how many links untrusted watches can make it dial, and how often it dials a link
// that keeps closing.
import t from 'tap'
import { createLinkPool, type DialEvents } from '../../../src/hub/console/hub-links.ts'
import { createLinkAuth } from '../../../src/hub/console/link-auth.ts'
import { createFakeClock } from '../../helpers/fake-clock.ts'
import { createFakeTransport } from '../../helpers/fake-transport.ts'

const HUB_A = '00000000-0000-4000-8000-00000000000a'
const HUB_B = '00000000-0000-4000-8000-00000000000b'
const ADDR_B = 'ws://10.0.0.2:8080'
const secret = Buffer.alloc(32, 1)
const limits = { heartbeatMs: 60_000, ratePerSecond: 5_000, burst: 5_000, maxBadFrames: 20, maxLimitedFrames: 1_000, maxBufferedBytes: 2 * 1024 * 1024, ephemeralBytes: 1024 * 1024 }
const settle = async () => { for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve)) }
const hubId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`

function poolOf (maxLinks?: number) {
  const clock = createFakeClock(Date.now())
  const dials: Array<{ url: string, headers: Record<string, string>, events: DialEvents }> = []
  const warnings: string[] = []
  const pool = createLinkPool({
    auth: createLinkAuth(secret, HUB_A, clock.now),
    dial: (url, headers, events) => { dials.push({ url, headers, events }) },
    limits,
    now: clock.now,
    setTimer: clock.setTimer,
    maxLinks,
    log: { warn: (_obj, msg) => { warnings.push(msg) } }
  })
  t.teardown(() => pool.closeAll())
  return { clock, dials, warnings, pool }
}

t.test('hub ids from watches are untrusted: at most maxLinks links, one warning, the others by NOTIFY', async t => {
  const { dials, warnings, pool } = poolOf(3)
  for (let i = 1; i <= 100; i++) t.equal(pool.state(hubId(i), `ws://10.0.1.${i}:8080`), i <= 3 ? 'connecting' : 'down')
  await settle()
  t.equal(dials.length, 3, 'three dials, not a hundred')
  t.equal(warnings.filter(w => w.includes('too many hubs')).length, 1, 'said once')
  pool.retain(new Set([hubId(1)]))
  t.equal(pool.state(hubId(50), 'ws://10.0.1.50:8080'), 'connecting', 'room again once links are let go of')
})

t.test('a link the peer closes right after its welcome is dialled ever more slowly, not every second', async t => {
  const { clock, dials, pool } = poolOf()
  const b = createLinkAuth(secret, HUB_B, clock.now)
  const attemptsIn = async (ms: number) => {
    const before = dials.length
    for (let elapsed = 0; elapsed < ms; elapsed += 500) {
      clock.advance(500)
      pool.state(HUB_B, ADDR_B)
      await settle()
      const dial = dials.at(-1)
      if (dials.length > before && dial !== undefined && !(dial as { done?: boolean }).done) {
        (dial as { done?: boolean }).done = true
        // The peer opens, proves itself, then closes at once (it refuses what it is sent).
        const nonce = JSON.parse(Buffer.from(dial.headers.authorization!.split('.')[1]!, 'base64url').toString()).nonce as string
        dial.events.onOpen(createFakeTransport())
        dial.events.onFrame(Buffer.from(JSON.stringify({ type: 'link.welcome', token: (await b.sign(HUB_A, { use: 'welcome', nonce })).token, maxFrameBytes: 65_536 })), false)
        await settle()
        t.equal(pool.open, 1, 'the link opened')
        dial.events.onClose()
      }
    }
    return dials.length - before
  }
  t.equal(pool.state(HUB_B, ADDR_B), 'connecting')
  const n = await attemptsIn(60_000)
  t.ok(n <= 6, `${n} dials in a minute (1, 2, 4, 8, 16, 30 s apart), not 60`)
})
