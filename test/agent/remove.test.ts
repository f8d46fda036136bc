// Removing a server's folder when the agent runs as root: the folder belongs to the game user, who
// may have planted symlinks to anywhere (or swap a subfolder for one during the removal). The
// removal follows none of them and has only the game user's rights (src/agent/remove-dir.ts).
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { removeTree } from '../../src/agent/remove-dir.ts'
import { lookupUser } from '../../src/agent/users.ts'
import { createTestNode, gameConfig, makeDataDir, run, type Teardown } from './helpers.ts'

const isRoot = process.getuid?.() === 0
const gameUser = isRoot ? lookupUser('gpdaemon') : undefined
const skip = gameUser === undefined ? 'needs root and the gpdaemon system user' : false

/** A root-owned folder the game must never lose files from: a stand-in for /etc. */
function victim (t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-victim-'))
  chmodSync(dir, 0o755)
  writeFileSync(path.join(dir, 'passwd'), 'root:x:0:0\n', { mode: 0o644 })
  mkdirSync(path.join(dir, 'inner'), { mode: 0o755 })
  writeFileSync(path.join(dir, 'inner', 'shadow'), 'secret\n', { mode: 0o644 })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function intact (dir: string): boolean {
  return readFileSync(path.join(dir, 'passwd'), 'utf8') === 'root:x:0:0\n' && readFileSync(path.join(dir, 'inner', 'shadow'), 'utf8') === 'secret\n'
}

t.test('server.removed as root: symlinks a game planted are removed, never followed, even while one is being swapped in', { skip }, async (t) => {
  const owner = gameUser as NonNullable<typeof gameUser>
  const target = victim(t)
  const node = createTestNode(t, { runAs: owner })
  // The game plants links to the victim: at the top of its folder, deep inside, to a file.
  const plant = 'ln -s "$VICTIM" etc; mkdir -p a/b; ln -s "$VICTIM" a/b/etc; ln -s "$VICTIM/passwd" passwd; ln -s "$VICTIM/inner" a/inner; echo \'Done (\'; sleep 600'
  const config = gameConfig({ startup: plant, environment: { VICTIM: target } })
  node.supervisor.applyConfig(config)
  t.same(await run(node, config.serverId, 'START'), { ok: true })
  const work = node.supervisor.workDir(config.serverId)
  t.ok(lstatSync(path.join(work, 'a', 'b', 'etc')).isSymbolicLink(), 'the game planted its links')

  // Something of the game user's that outlived the game (it escaped the session) keeps swapping a
  // folder for a symlink to the victim while the removal runs.
  const swapper = spawn('/bin/sh', ['-c', 'i=0; while [ "$i" -lt 3000 ]; do mkdir -p sw/x 2>/dev/null; rm -rf sw 2>/dev/null; ln -s "$VICTIM" sw 2>/dev/null; rm -f sw; i=$((i + 1)); done'], {
    cwd: work, env: { PATH: '/usr/bin:/bin', VICTIM: target }, uid: owner.uid, gid: owner.gid, stdio: 'ignore'
  })
  const swapperGone = new Promise((resolve) => swapper.once('exit', resolve))
  t.teardown(() => swapper.kill('SIGKILL'))
  await node.supervisor.remove(config.serverId)
  swapper.kill('SIGKILL')
  await swapperGone
  t.ok(intact(target), 'the victim folder and its files are untouched')
  // The swapper may have left an entry after the removal's walk: a second removal finishes.
  await node.supervisor.remove(config.serverId)
  t.notOk(existsSync(work), 'the server folder is gone')
  t.ok(intact(target))
})

t.test('the removal has the game user\'s rights only: what that user cannot delete stays (and is reported)', { skip }, async (t) => {
  const owner = gameUser as NonNullable<typeof gameUser>
  const dataDir = makeDataDir(t)
  const work = path.join(dataDir, 'game')
  mkdirSync(work, { mode: 0o750 })
  mkdirSync(path.join(work, 'world'))
  writeFileSync(path.join(work, 'world', 'level.dat'), 'x')
  symlinkSync('/etc', path.join(work, 'etc'))
  // Ownership as the agent prepares it: the game's folder and what the game made are the game user's.
  // (lchown: a symlink's own owner, never its target's.)
  for (const p of [work, path.join(work, 'world'), path.join(work, 'world', 'level.dat'), path.join(work, 'etc')]) lchownSync(p, owner.uid, owner.gid)
  // A root-owned folder inside (the game could not have made it): root's rm would delete it; the
  // game user's cannot. Without remove-dir.ts's uid switch this test fails.
  mkdirSync(path.join(work, 'rootonly'), { mode: 0o755 })
  writeFileSync(path.join(work, 'rootonly', 'keep'), 'k')
  const result = await removeTree(work, owner)
  t.equal(result.removed, false)
  t.match(result.reason, /ENOTEMPTY; rm as the game user: .*Permission denied/)
  t.ok(existsSync(path.join(work, 'rootonly', 'keep')), 'the root-owned file is left in place')
  t.notOk(existsSync(path.join(work, 'world')), 'the game\'s own files are gone')
  t.notOk(existsSync(path.join(work, 'etc')), 'the link is gone')
  t.ok(existsSync('/etc/passwd'), 'and /etc is still there')
  rmSync(path.join(work, 'rootonly'), { recursive: true })
  t.same(await removeTree(work, owner), { removed: true }, 'once it is gone, the folder goes too')
  t.notOk(existsSync(work))
  // A symlink at the top is unlinked, not followed.
  symlinkSync('/etc', work)
  t.same(await removeTree(work, owner), { removed: true })
  t.ok(existsSync('/etc/passwd'))
})
