// A hub on an external DATABASE_URL owns no cluster: the backup API, `npm run db:backup` and
// `npm run db:restore` say so (409 / exit 2 with the reason), and only an ADMIN may ask.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { startTestHub } from '../helpers/hub.ts'
import { addUser } from './panel/fixtures.ts'

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')

t.test('the API answers 409 with the reason on an external database, 403 to non-admins', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const list = await hub.request('GET', '/api/backups', { token: admin })
  t.equal(list.status, 200)
  t.same(list.body.items, [])
  t.match(list.body.status, { available: false, reason: /external PostgreSQL \(DATABASE_URL\)/ })
  const start = await hub.request('POST', '/api/backups', { token: admin })
  t.equal(start.status, 409)
  t.match(start.body.error, { code: 'CONFLICT', message: /does not own that cluster.*pgBackRest, WAL-G/ })
  const verify = await hub.request('POST', '/api/backups/00000000-0000-4000-8000-000000000000/verify', { token: admin })
  t.equal(verify.status, 409)
  t.equal((await hub.request('POST', '/api/backups/not-a-uuid/verify', { token: admin })).status, 400)

  const alice = await addUser(hub, 'alice', ['users.manage', 'nodes.manage'])
  t.equal((await hub.request('GET', '/api/backups', { token: alice.token })).status, 403, 'even with every permission, a USER is refused')
  t.equal((await hub.request('POST', '/api/backups', { token: alice.token })).status, 403)
  t.equal((await hub.request('GET', '/api/backups')).status, 401, 'a session is required')

  const ready = await hub.request('GET', '/readyz')
  t.equal(ready.status, 200)
  t.notOk('warnings' in ready.body, 'no backup warnings where the hub backs nothing up')
})

t.test('db:backup and db:restore refuse with DATABASE_URL, naming the alternatives', async t => {
  const env = { ...process.env, DATABASE_URL: 'postgresql://hub@127.0.0.1:1/hub', LOG_LEVEL: 'silent' }
  for (const args of [['src/db/cli/backup.ts'], ['src/db/cli/restore.ts', '--to', 'latest']]) {
    const err = await run(process.execPath, args, { cwd: ROOT, env, timeout: 60_000 }).then(() => undefined, (e: { code: number, stderr: string }) => e)
    t.equal(err?.code, 2, `${args[0]} exits 2`)
    t.match(err?.stderr, /DATABASE_URL is set: the hub does not own that PostgreSQL cluster.*pgBackRest, WAL-G/)
  }
  const usage = await run(process.execPath, ['src/db/cli/restore.ts'], { cwd: ROOT, env, timeout: 60_000 }).then(() => undefined, (e: { code: number, stderr: string }) => e)
  t.equal(usage?.code, 2)
  t.match(usage?.stderr, /--to is required/)
})
