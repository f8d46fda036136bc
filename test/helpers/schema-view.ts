// One shape for "the schema", built two ways: from a migrated database's catalog, and from
// schema.prisma's DMMF as Prisma's migration engine would lay it out on PostgreSQL. Equal views
// mean that `prisma migrate diff` between the two would find nothing to do (within what the view
// covers; see each field). Entries are one-line strings so that a t.same diff names the culprit.
import type { Catalog } from './catalog.ts'
import type { Datamodel, DmmfField, DmmfModel } from './prisma-dmmf.ts'

export interface SchemaView {
  tables: string[]
  /** `table.column` → `type [NOT NULL] [DEFAULT expr]`; literal defaults as `'value'`, uncast. */
  columns: Record<string, string>
  enums: Record<string, string[]>
  /** table → `name (columns)` */
  primaryKeys: Record<string, string>
  /** index name → `[UNIQUE ]INDEX ON table [USING method] (column [DESC], ...)`; primary keys excluded. */
  indexes: Record<string, string>
  /**
   * `table (columns) REFERENCES table (columns) ON DELETE x ON UPDATE y`. Without constraint names:
   * the DMMF does not carry @relation(map: ...), so the names cannot be known from Prisma's side.
   */
  foreignKeys: string[]
  /** Things schema.prisma cannot declare (CHECK constraints, views, triggers...): must stay empty. */
  undeclarable: string[]
}

/** Prisma's ledger: the migration runner's, not the schema's. */
const LEDGER = '_prisma_migrations'

// ---- From the database ----

export function viewOfCatalog (catalog: Catalog): SchemaView {
  const view: SchemaView = { tables: [], columns: {}, enums: catalog.enums, primaryKeys: {}, indexes: {}, foreignKeys: [], undeclarable: [...catalog.others] }
  for (const [table, { columns, indexes, constraints }] of Object.entries(catalog.tables)) {
    if (table === LEDGER) continue
    view.tables.push(table)
    for (const [name, c] of Object.entries(columns)) {
      view.columns[`${table}.${name}`] = column(c.enumType === null ? c.type : `enum ${c.enumType}`, c.nullable, literal(c.default))
    }
    for (const [name, i] of Object.entries(indexes)) {
      // Prisma cannot express expression keys, INCLUDE columns or partial indexes.
      if (i.predicate !== null || i.include.length > 0 || i.keys.includes(null)) {
        view.undeclarable.push(i.definition)
      } else if (i.primary) {
        view.primaryKeys[table] = `${name} (${i.keys.join(', ')})`
      } else {
        view.indexes[name] = index(table, i.unique, i.method, i.keys as string[])
      }
    }
    for (const [name, c] of Object.entries(constraints)) {
      if (c.references !== undefined) {
        const r = c.references
        view.foreignKeys.push(foreignKey(table, c.columns, r.table, r.columns, r.onDelete, r.onUpdate))
      } else if (c.type === 'c' || c.type === 'x') {
        view.undeclarable.push(`${name} on ${table}: ${c.definition}`)
      }
      // p and u are seen through their indexes; n (NOT NULL, PostgreSQL 18) through the columns.
    }
  }
  return sorted(view)
}

/** A literal default as `'value'`, without PostgreSQL's cast: `'USER'::"Role"` and `0` → `'USER'`, `'0'`. */
function literal (expr: string | null): string | null {
  if (expr === null) return null
  const quoted = /^'((?:[^']|'')*)'::[^']+$/.exec(expr)
  if (quoted !== null) return `'${quoted[1]!.replaceAll("''", "'")}'`
  return /^(-?\d+(\.\d+)?|true|false)$/.test(expr) ? `'${expr}'` : expr
}

// ---- From schema.prisma ----

/** PostgreSQL types (as format_type prints them) of Prisma's scalars without a native type. */
const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Boolean: 'boolean',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea'
}

/** Native types (`@db.X(args)`) as format_type prints them; `#` is where the arguments go. */
const NATIVE_TYPES: Record<string, string> = {
  Uuid: 'uuid',
  Text: 'text',
  Citext: 'citext',
  Boolean: 'boolean',
  Integer: 'integer',
  SmallInt: 'smallint',
  BigInt: 'bigint',
  Real: 'real',
  DoublePrecision: 'double precision',
  Decimal: 'numeric#',
  Money: 'money',
  VarChar: 'character varying#',
  Char: 'character#',
  Bit: 'bit#',
  VarBit: 'bit varying#',
  Timestamp: 'timestamp# without time zone',
  Timestamptz: 'timestamp# with time zone',
  Time: 'time# without time zone',
  Timetz: 'time# with time zone',
  Date: 'date',
  Json: 'json',
  JsonB: 'jsonb',
  ByteA: 'bytea',
  Xml: 'xml',
  Inet: 'inet',
  Oid: 'oid'
}

/** Prisma's default constraint names (psl ConstraintNames): truncated to PostgreSQL's 63 bytes. */
function defaultName (table: string, columns: string[], suffix: string): string {
  const base = [table, ...columns].join('_')
  return base.slice(0, Math.min(base.length, 63 - suffix.length)) + suffix
}

export function viewOfDatamodel (datamodel: Datamodel): SchemaView {
  const view: SchemaView = { tables: [], columns: {}, enums: {}, primaryKeys: {}, indexes: {}, foreignKeys: [], undeclarable: [] }
  const enumsByName = new Map(datamodel.enums.map(e => [e.name, e]))
  const modelsByName = new Map(datamodel.models.map(m => [m.name, m]))
  const tableOf = (m: DmmfModel) => m.dbName ?? m.name
  const columnOf = (m: DmmfModel, field: string) => {
    const f = m.fields.find(f => f.name === field)
    if (f === undefined) throw new Error(`${m.name} has no field ${field}`)
    return f.dbName ?? f.name
  }

  for (const e of datamodel.enums) view.enums[e.dbName ?? e.name] = e.values.map(v => v.dbName ?? v.name)

  for (const model of datamodel.models) {
    const table = tableOf(model)
    view.tables.push(table)
    for (const field of model.fields) {
      if (field.kind === 'object') {
        if (field.relationFromFields === undefined || field.relationFromFields.length === 0) continue // the other side
        const target = modelsByName.get(field.type)!
        const from = field.relationFromFields.map(f => columnOf(model, f))
        const to = field.relationToFields!.map(f => columnOf(target, f))
        // Prisma's defaults: Restrict when the relation is required, SetNull when optional; Cascade on update.
        const onDelete = field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull')
        view.foreignKeys.push(foreignKey(table, from, tableOf(target), to, onDelete, field.relationOnUpdate ?? 'Cascade'))
        continue
      }
      const name = `${model.name}.${field.name}`
      view.columns[`${table}.${field.dbName ?? field.name}`] =
        column(columnType(field, name), !field.isRequired, columnDefault(field, table, name))
    }
  }

  for (const i of datamodel.indexes) {
    const model = modelsByName.get(i.model)!
    const table = tableOf(model)
    const columns = i.fields.map(f => columnOf(model, f.name))
    const keys = i.fields.map((f, n) => columns[n] + (f.sortOrder === 'desc' ? ' DESC' : ''))
    if (i.type === 'id') {
      view.primaryKeys[table] = `${i.dbName ?? defaultName(table, [], '_pkey')} (${keys.join(', ')})`
    } else if (i.type === 'unique' || i.type === 'normal') {
      const name = i.dbName ?? defaultName(table, columns, i.type === 'unique' ? '_key' : '_idx')
      view.indexes[name] = index(table, i.type === 'unique', i.algorithm?.toLowerCase() ?? 'btree', keys)
    } else {
      throw new Error(`${i.model}: ${i.type} indexes are not known to test/helpers/schema-view.ts`)
    }
  }
  return sorted(view)

  function columnType (field: DmmfField, name: string): string {
    // A scalar list is a PostgreSQL array of the element type (format_type prints `text[]`).
    if (field.isList) return `${columnType({ ...field, isList: false }, name)}[]`
    if (field.kind === 'enum') {
      const e = enumsByName.get(field.type)!
      return `enum ${e.dbName ?? e.name}`
    }
    if (field.nativeType !== null) {
      const [type, args] = field.nativeType
      const template = NATIVE_TYPES[type]
      if (template === undefined) throw new Error(`${name}: @db.${type} is not known to test/helpers/schema-view.ts; add its format_type name`)
      return template.replace('#', args.length === 0 ? '' : `(${args.join(',')})`)
    }
    const type = SCALAR_TYPES[field.type]
    if (type === undefined) throw new Error(`${name}: type ${field.type} is not known to test/helpers/schema-view.ts`)
    return type
  }

  /** The default as PostgreSQL would hold it, or null for none (and for defaults Prisma computes itself). */
  function columnDefault (field: DmmfField, table: string, name: string): string | null {
    const d = field.default
    if (d === undefined) return null
    if (typeof d !== 'object' || d === null) {
      if (field.kind !== 'enum') return `'${String(d)}'`
      // Defaults name the Prisma value; the database holds its @map'ped label.
      const value = enumsByName.get(field.type)!.values.find(v => v.name === d)!
      return `'${value.dbName ?? value.name}'`
    }
    // Prisma writes an empty list default as `ARRAY[]::TEXT[]`; pg_get_expr prints it in lower case.
    if (Array.isArray(d) && d.length === 0) return `ARRAY[]::${columnType(field, name)}`
    if (Array.isArray(d)) throw new Error(`${name}: non-empty list defaults are not known to test/helpers/schema-view.ts`)
    switch (d.name) {
      case 'now': return 'CURRENT_TIMESTAMP'
      // Compared verbatim: write dbgenerated() the way pg_get_expr prints the expression.
      case 'dbgenerated': return String(d.args[0])
      case 'autoincrement': return `nextval('${defaultName(table, [field.dbName ?? field.name], '_seq')}'::regclass)`
      // Generated by Prisma Client, not by the database.
      case 'uuid': case 'cuid': case 'nanoid': case 'ulid': return null
      default: throw new Error(`${name}: @default(${d.name}()) is not known to test/helpers/schema-view.ts`)
    }
  }
}

// ---- Shared rendering ----

function column (type: string, nullable: boolean, dflt: string | null): string {
  return type + (nullable ? '' : ' NOT NULL') + (dflt === null ? '' : ` DEFAULT ${dflt}`)
}

function index (table: string, unique: boolean, method: string, keys: string[]): string {
  return `${unique ? 'UNIQUE ' : ''}INDEX ON ${table}${method === 'btree' ? '' : ` USING ${method}`} (${keys.join(', ')})`
}

function foreignKey (table: string, columns: string[], target: string, targetColumns: string[], onDelete: string, onUpdate: string): string {
  return `${table} (${columns.join(', ')}) REFERENCES ${target} (${targetColumns.join(', ')}) ON DELETE ${onDelete} ON UPDATE ${onUpdate}`
}

/** Same order on both sides, so that diffs line up. */
function sorted (view: SchemaView): SchemaView {
  const byKey = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  return {
    tables: view.tables.toSorted(),
    columns: byKey(view.columns),
    enums: byKey(view.enums),
    primaryKeys: byKey(view.primaryKeys),
    indexes: byKey(view.indexes),
    foreignKeys: view.foreignKeys.toSorted(),
    undeclarable: view.undeclarable.toSorted()
  }
}
