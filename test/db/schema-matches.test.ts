// prisma/migrations and prisma/schema.prisma must describe the same schema: Prisma Client is
// generated from the one, the database is built from the other, and here no schema engine can
// diff them (ENVIRONMENT.md). So the migrated database is read from PostgreSQL's catalogs, the
// schema through Prisma's own parser (its DMMF), and both are laid out the same way (schema-view.ts).
// Each t.same fails on an entry either side lacks: a field added to the schema without a
// migration, and an index added by a migration without the schema, both fail here.
import path from 'node:path'
import t from 'tap'
import { readCatalog } from '../helpers/catalog.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { readDatamodel } from '../helpers/prisma-dmmf.ts'
import { viewOfCatalog, viewOfDatamodel } from '../helpers/schema-view.ts'

const SCHEMA = path.resolve(import.meta.dirname, '../../prisma/schema.prisma')

// The test database is a copy of the template that global-setup built with every migration.
const { url } = await createTestDatabase(t)
const database = viewOfCatalog(await readCatalog(url))
const schema = viewOfDatamodel(await readDatamodel(SCHEMA))

t.ok(schema.tables.length > 0 && Object.keys(schema.columns).length > 0, 'the schema declares tables and columns')
t.same(database.tables, schema.tables, 'one table per model (@@map), and no other')
t.same(database.columns, schema.columns, 'one column per scalar field (@map), with its type (@db.*, enums), nullability and default')
t.same(database.enums, schema.enums, 'enum types with their labels, in order')
t.same(database.primaryKeys, schema.primaryKeys, 'primary keys (@id, @@id): name and columns')
t.same(database.indexes, schema.indexes, 'unique and normal indexes (@unique, @@unique, @@index): name, columns, order, direction')
t.same(database.foreignKeys, schema.foreignKeys, 'foreign keys (@relation): columns, referenced columns, ON DELETE and ON UPDATE')
// What schema.prisma cannot declare, each entry on purpose. Anything else fails here.
const UNDECLARABLE = [
  // One live START/STOP/RESTART/INSTALL per server, enforced by the database (issues 4, 12): partial unique.
  'CREATE UNIQUE INDEX server_actions_one_live_power_action ON public.server_actions USING btree (server_id) WHERE ((action = ANY (ARRAY[\'START\'::"ActionType", \'STOP\'::"ActionType", \'RESTART\'::"ActionType", \'INSTALL\'::"ActionType"])) AND (state = ANY (ARRAY[\'QUEUED\'::"ActionState", \'DISPATCHED\'::"ActionState", \'ACKED\'::"ActionState"])))',
  // KILL coalescing: one live KILL per server (issue 10 item 5): partial unique.
  'CREATE UNIQUE INDEX server_actions_one_live_kill ON public.server_actions USING btree (server_id) WHERE ((action = \'KILL\'::"ActionType") AND (state = ANY (ARRAY[\'QUEUED\'::"ActionState", \'DISPATCHED\'::"ActionState", \'ACKED\'::"ActionState"])))',
  // One RUNNING backup per cluster (issue 14): partial unique on a constant.
  'CREATE UNIQUE INDEX backups_one_running ON public.backups USING btree ((true)) WHERE (status = \'RUNNING\'::"BackupStatus")',
  // The event-log append sent in one message with COMMIT (src/db/sql/events.ts commitMessage).
  'function append_events(jsonb)',
  // Live actions by deadline: partial index (read by the old timeout sweep; now only by ad-hoc queries).
  'CREATE INDEX server_actions_live_deadline ON public.server_actions USING btree (deadline_at) WHERE (state = ANY (ARRAY[\'QUEUED\'::"ActionState", \'DISPATCHED\'::"ActionState", \'ACKED\'::"ActionState"]))'
].toSorted()
t.same(database.undeclarable, UNDECLARABLE, 'nothing that schema.prisma cannot declare, apart from the allow-list')
