// `npm run db:generate`: generates the Prisma client into src/db/generated.
// Every Prisma CLI command first makes sure its schema-engine binary exists and downloads it
// when missing; `generate` never runs that engine, so where none is installed (offline
// machines, CI) we point PRISMA_SCHEMA_ENGINE_BINARY at an existing harmless file instead.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '../../..')
const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' }
if (env.PRISMA_SCHEMA_ENGINE_BINARY === undefined) {
  const engines = path.join(root, 'node_modules/@prisma/engines')
  const hasEngine = readdirSync(engines).some(file => file.startsWith('schema-engine'))
  if (!hasEngine) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath
}
const prismaCli = path.join(root, 'node_modules/prisma/build/index.js')
const result = spawnSync(process.execPath, [prismaCli, 'generate'], { cwd: root, env, stdio: 'inherit' })
process.exit(result.status ?? 1)
