// The embedded cluster's database role for the hub: it owns the hub's database (so migrations
// and pg-boss can create their tables and schema there) and nothing more: no superuser, no
// CREATEDB, no CREATEROLE, and no CONNECT to the maintenance database. The hub's pool and its
// LISTEN connections use it; only this setup, run once per start on a superuser connection that
// is closed right after, needs the superuser.
//
// Upgrade: a data folder from a hub that ran everything as the superuser holds a database, tables,
// enums, functions and pg-boss's schema owned by `postgres`. Ownership of each of those moves to
// the hub's role here. `REASSIGN OWNED BY postgres` cannot do it: PostgreSQL refuses to reassign
// what the bootstrap superuser owns, system catalogs included.
import type pg from 'pg'

export interface HubRoleOptions {
  role: string
  password: string
  database: string
}

/** Creates or updates the role and makes it owner of `database`. `admin` is on the maintenance database. */
export async function ensureHubRole (admin: pg.Client, { role, password, database }: HubRoleOptions): Promise<void> {
  const id = admin.escapeIdentifier(role)
  const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${admin.escapeLiteral(password)}`
  const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
  await admin.query(`${rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${id} WITH ${attributes}`)
  const db = admin.escapeIdentifier(database)
  const { rowCount: exists } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
  if (exists === 0) await admin.query(`CREATE DATABASE ${db} OWNER ${id}`)
  else await admin.query(`ALTER DATABASE ${db} OWNER TO ${id}`)
  // Every role may connect to every database by default; the hub's role needs only its own.
  await admin.query('REVOKE CONNECT ON DATABASE postgres FROM PUBLIC')
}

// Objects in the hub's database still owned by the superuser (an install from before the hub had
// its own role), outside the system schemas. Tables carry their indexes, their column-owned
// sequences and their row types; the array types follow their element types.
const TRANSFER = `
DO $transfer$
DECLARE
  target text := %ROLE%;
  su oid := (SELECT oid FROM pg_roles WHERE rolname = current_user);
  r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
           WHERE n.nspowner = su AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, target); END LOOP;
  FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relowner = su AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP
    EXECUTE format(CASE r.relkind WHEN 'v' THEN 'ALTER VIEW %I.%I OWNER TO %I'
                                  WHEN 'm' THEN 'ALTER MATERIALIZED VIEW %I.%I OWNER TO %I'
                                  WHEN 'f' THEN 'ALTER FOREIGN TABLE %I.%I OWNER TO %I'
                                  ELSE 'ALTER TABLE %I.%I OWNER TO %I' END, r.nspname, r.relname, target);
  END LOOP;
  -- Sequences not owned by a column (those moved with their table above).
  FOR r IN SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relowner = su AND c.relkind = 'S'
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO %I', r.nspname, r.relname, target); END LOOP;
  FOR r IN SELECT t.oid::regtype::text AS name, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE t.typowner = su AND t.typtype IN ('e', 'd', 'r') AND t.typelem = 0
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP
    EXECUTE format(CASE r.typtype WHEN 'd' THEN 'ALTER DOMAIN %s OWNER TO %I' ELSE 'ALTER TYPE %s OWNER TO %I' END, r.name, target);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.proowner = su AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, target); END LOOP;
END
$transfer$`

/** Gives `role` everything the superuser owns in the database `client` is connected to (a no-op on a new install). */
export async function transferOwnership (client: pg.Client, role: string): Promise<void> {
  await client.query(TRANSFER.replace('%ROLE%', client.escapeLiteral(role)))
}
