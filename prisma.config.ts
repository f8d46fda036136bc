// Prisma 7 reads the connection string from here, not from schema.prisma. The hub itself
// never uses this file: it builds its client from its validated Config (src/db/database.ts).
import { defineConfig } from 'prisma/config'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations', seed: 'node prisma/seed.ts' },
  datasource: { url: process.env.DATABASE_URL ?? '' }
})
