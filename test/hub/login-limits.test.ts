// Issue 10 item 6: the login limiter reserves an attempt before the password is checked (300
// parallel wrong logins: exactly 10 checked), and checks beyond the hashing capacity answer 503
// with Retry-After. Every 429 says Retry-After too.
import t from 'tap'
import { createLoginLimiter } from '../../src/hub/login-limiter.ts'
import { createPasswordChecker, hashPassword } from '../../src/db/passwords.ts'
import bcryptjs from 'bcryptjs'
import { startTestHub } from '../helpers/hub.ts'

t.test('300 parallel wrong logins from one address: exactly 10 checked (401), the rest 429 with Retry-After', async t => {
  const hub = await startTestHub(t)
  const answers = await Promise.all(Array.from({ length: 300 }, async () =>
    await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'wrong-password' } })))
  const count = (status: number) => answers.filter(a => a.status === status).length
  t.equal(count(401), 10, 'the limit, not 10 plus those in flight')
  t.equal(count(429), 290)
  for (const a of answers.filter(a => a.status === 429)) {
    const after = Number(a.headers.get('retry-after'))
    if (!(Number.isInteger(after) && after >= 1 && after <= 60)) t.fail(`Retry-After ${String(a.headers.get('retry-after'))}`)
  }
  t.pass('every 429 carries Retry-After in whole seconds within the window')
})

t.test('beyond the hashing capacity a login answers 503 with Retry-After, and is not counted', async t => {
  const hub = await startTestHub(t, { loginHashConcurrency: 1, loginHashQueue: 1, loginMaxAttempts: 1_000 })
  const answers = await Promise.all(Array.from({ length: 30 }, async (_, i) =>
    await hub.request('POST', '/api/auth/login', { body: { username: `nobody-${i}`, password: 'wrong-password' } })))
  const busy = answers.filter(a => a.status === 503)
  t.ok(busy.length > 0, `some refused for load (${busy.length} of 30)`)
  t.ok(answers.every(a => a.status === 401 || a.status === 503), 'the others checked')
  for (const a of busy) {
    t.equal(a.body.error.code, 'NOT_READY')
    t.equal(a.headers.get('retry-after'), '1')
  }
  t.equal((await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'admin-password-for-tests' } })).status, 201, 'capacity comes back')
})

t.test('the limiter reserves, a refusal for load gives back, a success clears the username', async t => {
  let clock = 0
  const limiter = createLoginLimiter({ max: 2, windowMs: 1_000, now: () => clock })
  const keys = ['user:a', 'ip:1']
  t.same(limiter.reserve(keys), { ok: true })
  t.same(limiter.reserve(keys), { ok: true })
  t.same(limiter.reserve(keys), { ok: false, retryAfterMs: 1_000 }, 'the third waits while two are in flight')
  limiter.release(keys)
  t.same(limiter.reserve(keys), { ok: true }, 'a released reservation is free again')
  clock = 400
  t.same(limiter.reserve(['user:b', 'ip:1']), { ok: false, retryAfterMs: 600 }, 'the IP is full for every username')
  clock = 1_000
  t.same(limiter.reserve(keys), { ok: true }, 'a new window')
})

t.test('the checker bounds concurrency and waiting, and reads the hashes bcryptjs wrote', async t => {
  const old2a = bcryptjs.hashSync('correct-horse', 4).replace(/^\$2b\$/, '$2a$')
  const old2b = bcryptjs.hashSync('correct-horse', 4).replace(/^\$2a\$/, '$2b$')
  const checker = createPasswordChecker({ concurrency: 1, queue: 1 })
  const first = checker.verify('correct-horse', old2a)
  const second = checker.verify('correct-horse', old2b)
  t.equal(checker.verify('x', old2a), undefined, 'full: one running, one waiting')
  t.equal(checker.running, 1)
  t.equal(checker.waiting, 1)
  t.same(await Promise.all([first, second]), [true, true], '$2a and $2b hashes of bcryptjs verify')
  t.equal(checker.running, 0)
  t.equal(await checker.verify('wrong', old2a), false)
  t.equal(await checker.verify('x', 'not-a-hash'), false, 'a malformed hash matches nothing')
  t.equal(await checker.verify('x', undefined), false, 'an unknown user never matches')
  t.ok(bcryptjs.compareSync('pw-12345678', await hashPassword('pw-12345678')), 'new hashes stay bcrypt')
})

t.test('login limits key IPv6 clients by their /64, IPv4 (also mapped) by the address', async t => {
  const { addressKey } = await import('../../src/hub/login-limiter.ts')
  t.equal(addressKey('203.0.113.7'), 'ip:203.0.113.7')
  t.equal(addressKey('::ffff:203.0.113.7'), 'ip:203.0.113.7', 'IPv4 mapped into IPv6')
  const a = addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')
  t.equal(a, 'ip6:2001:db8:1:2::/64')
  t.equal(addressKey('2001:0db8:0001:0002::1'), a, 'another address of the same /64, another spelling')
  t.equal(addressKey('2001:db8:1:2::ffff%eth0'), a, 'with a zone')
  t.not(addressKey('2001:db8:1:3::1'), a, 'the next /64 is another client')
  t.equal(addressKey('::1'), 'ip6:0:0:0:0::/64')
})
