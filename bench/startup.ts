// Cold and warm start of the `hub` command (npm start without DATABASE_URL): time from spawn
// to the first /readyz 200. Cold = empty HUB_DATA_DIR (initdb, migrations, seed); warm = the
// same folder again. Writes bench/results/startup.md. Usage: node bench/startup.ts [runs=3]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import path from 'node:path'

const runs = Number(process.argv[2] ?? 3)
const root = path.resolve(import.meta.dirname, '..')

async function startOnce (dataDir: string): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, ['src/hub/main.ts'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: '', HUB_DATA_DIR: dataDir, HUB_PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no start within 30 s')), 30_000)
    child.stdout.on('data', chunk => {
      out += chunk
      const m = /hub ready at (\S+)/.exec(out)
      if (m?.[1] !== undefined) { clearTimeout(timer); resolve(m[1]) }
    })
  })
  let ready = false
  while (!ready) ready = (await fetch(url + '/readyz')).status === 200
  const elapsed = performance.now() - started
  child.kill('SIGTERM')
  await once(child, 'exit')
  return elapsed
}

const cold: number[] = []
const warm: number[] = []
for (let i = 0; i < runs; i++) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-bench-startup-'))
  await chmod(dir, 0o755)
  try {
    cold.push(await startOnce(dir))
    warm.push(await startOnce(dir))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
const fmt = (xs: number[]) => xs.map(x => `${Math.round(x)} ms`).join(', ')
const median = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number)
const report = `# Start-up time of \`npm start\` (embedded PostgreSQL)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}
(shared, noisy machine). Time from spawning \`node src/hub/main.ts\` to the first \`/readyz\` 200.
Script: \`node bench/startup.ts ${runs}\`. Target (issue 2): ready within 15 s.

| start | median | runs |
| --- | --- | --- |
| cold (empty HUB_DATA_DIR: initdb, all migrations, seed) | ${median(cold)} ms | ${fmt(cold)} |
| warm (same folder again) | ${median(warm)} ms | ${fmt(warm)} |
`
await writeFile(path.join(root, 'bench/results/startup.md'), report)
process.stdout.write(report)
