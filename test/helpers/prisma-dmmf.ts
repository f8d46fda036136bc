// Reads schema.prisma into Prisma's DMMF (its own parsed view of the schema) without Prisma's
// schema engine, which cannot be downloaded here (ENVIRONMENT.md).
//
// Where it comes from: the `prisma` CLI package ships Prisma's schema parser compiled to
// WebAssembly (build/prisma_schema_build_bg.wasm, the code of @prisma/prisma-schema-wasm) but
// bundles the JavaScript that drives it inside build/cli.js, which cannot be imported. So this file
// is that driver, reduced to the one call used here, `get_dmmf`. It follows wasm-bindgen's calling
// convention; its four imports carry a hash in their names that changes with each Prisma release,
// so they are matched by prefix. After a Prisma upgrade that changes the convention this fails
// loudly (never silently passes); the fix is a few lines here, or a devDependency on
// @prisma/prisma-schema-wasm (the same parser as a package) whose get_dmmf replaces this file.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'

export interface DmmfDefault {
  name: string
  args: unknown[]
}

// Only the parts of Prisma's DMMF used by the tests. `dbName` is absent or null without @map/@@map/map:.
export interface DmmfField {
  name: string
  dbName?: string | null
  kind: 'scalar' | 'enum' | 'object' | 'unsupported'
  type: string
  nativeType: [string, string[]] | null
  isList: boolean
  isRequired: boolean
  isId: boolean
  isUnique: boolean
  isUpdatedAt: boolean
  hasDefaultValue: boolean
  default?: DmmfDefault | string | number | boolean | unknown[]
  relationName?: string
  relationFromFields?: string[]
  relationToFields?: string[]
  relationOnDelete?: string
  relationOnUpdate?: string
}

export interface DmmfModel {
  name: string
  dbName?: string | null
  fields: DmmfField[]
  primaryKey: { name: string | null, fields: string[] } | null
}

export interface DmmfIndex {
  model: string
  type: 'id' | 'unique' | 'normal' | 'fulltext'
  dbName?: string | null
  /** `type:` of @@index (Hash, Gin...); absent for the default B-tree. */
  algorithm?: string
  fields: Array<{ name: string, sortOrder?: 'asc' | 'desc' }>
}

export interface DmmfEnum {
  name: string
  dbName?: string | null
  values: Array<{ name: string, dbName?: string | null }>
}

export interface Datamodel {
  models: DmmfModel[]
  enums: DmmfEnum[]
  indexes: DmmfIndex[]
}

// tsconfig's lib (es2024, no DOM) has no WebAssembly types: these are the few parts used here.
interface WasmApi {
  Module: { new (bytes: Uint8Array): object, imports (module: object): Array<{ module: string, name: string }> }
  Instance: new (module: object, imports: object) => { exports: object }
}
const { WebAssembly } = globalThis as unknown as { WebAssembly: WasmApi }

interface SchemaWasm {
  memory: { buffer: ArrayBuffer }
  __wbindgen_externrefs: { grow (delta: number): number, get (index: number): unknown, set (index: number, value: unknown): void }
  __wbindgen_malloc (size: number, align: number): number
  __wbindgen_free (ptr: number, size: number, align: number): void
  __externref_table_dealloc (index: number): void
  __wbindgen_start (): void
  /** Returns [ptr, len, errorRef, isError]. */
  get_dmmf (ptr: number, len: number): [number, number, number, number]
}

async function loadSchemaWasm (): Promise<{ wasm: SchemaWasm, panic: () => string | undefined }> {
  const require = createRequire(import.meta.url)
  const file = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'prisma_schema_build_bg.wasm')
  const module = new WebAssembly.Module(await readFile(file))
  let panic: string | undefined
  const text = (ptr: number, len: number) => new TextDecoder().decode(new Uint8Array(wasm.memory.buffer, ptr >>> 0, len))
  const byPrefix: Record<string, (...args: number[]) => unknown> = {
    __wbg_Error_: (ptr, len) => new Error(text(ptr!, len!)),
    __wbg___wbindgen_throw_: (ptr, len) => { throw new Error(text(ptr!, len!)) },
    // Rust panics report their message here before trapping; keep it for the error below.
    __wbg_set_message_: (ptr, len) => { panic = text(ptr!, len!) },
    __wbindgen_init_externref_table: () => {
      const table = wasm.__wbindgen_externrefs
      const base = table.grow(4)
      table.set(0, undefined)
      table.set(base, undefined)
      table.set(base + 1, null)
      table.set(base + 2, true)
      table.set(base + 3, false)
    }
  }
  const imports: Record<string, Record<string, unknown>> = {}
  for (const { module: from, name } of WebAssembly.Module.imports(module)) {
    const prefix = Object.keys(byPrefix).find(p => name.startsWith(p))
    if (prefix === undefined) throw new Error(`${file} wants an import this driver does not know (${name}): update test/helpers/prisma-dmmf.ts for this Prisma version`)
    ;(imports[from] ??= {})[name] = byPrefix[prefix]
  }
  // The imports above use `wasm` only once called, which is after this line.
  const wasm = new WebAssembly.Instance(module, imports).exports as SchemaWasm
  wasm.__wbindgen_start()
  return { wasm, panic: () => panic }
}

/** Prisma's DMMF datamodel of the given schema file, exactly as `prisma generate` sees it. */
export async function readDatamodel (schemaPath: string): Promise<Datamodel> {
  const { wasm, panic } = await loadSchemaWasm()
  const params = new TextEncoder().encode(JSON.stringify({
    prismaSchema: [[path.basename(schemaPath), await readFile(schemaPath, 'utf8')]],
    noColor: true
  }))
  const input = wasm.__wbindgen_malloc(params.length, 1) >>> 0
  new Uint8Array(wasm.memory.buffer, input, params.length).set(params)
  // get_dmmf takes ownership of the input buffer; the output buffer is ours to free.
  let result: [number, number, number, number]
  try {
    result = wasm.get_dmmf(input, params.length)
  } catch (err) {
    throw new Error(`Prisma's schema parser panicked: ${panic() ?? String(err)}`, { cause: err })
  }
  const [ptr, len, errorRef, isError] = result
  if (isError !== 0) {
    const error = wasm.__wbindgen_externrefs.get(errorRef) as Error
    wasm.__externref_table_dealloc(errorRef)
    // The message is JSON ({ error_code, message }) holding Prisma's usual validation report.
    let report = error.message
    try { report = (JSON.parse(report) as { message?: string }).message ?? report } catch {}
    throw new Error(`${schemaPath} is not a valid Prisma schema:\n${report}`)
  }
  try {
    const json = new TextDecoder().decode(new Uint8Array(wasm.memory.buffer, ptr >>> 0, len))
    return (JSON.parse(json) as { datamodel: Datamodel }).datamodel
  } finally {
    wasm.__wbindgen_free(ptr, len, 1)
  }
}
