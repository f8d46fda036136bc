// No import cycles (STYLE.md). eslint's import-x/no-cycle catches cycles of values; it skips
// type-only imports, and every cycle this repo had was one of types (panel-session ⇄
// panel-subscriptions, the simulator's drivers ⇄ action-/panel-driver, report ⇄ report-html). So
// this test walks every relative import, types included, and finds the strongly connected parts;
// and it checks that the eslint config really sees .ts files (without `import-x/extensions` the
// rule passes silently).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ESLint } from 'eslint'
import t from 'tap'

const ROOT = path.resolve(import.meta.dirname, '../..')
const DIRS = ['src', 'agent-simulator', 'bench', 'test']
const SKIP = new Set(['node_modules', 'generated', '.tap', 'coverage'])

async function tsFiles (dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) { if (!SKIP.has(e.name)) await tsFiles(p, out) } else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

/** Strongly connected components of more than one file (Tarjan). */
function cycles (graph: Map<string, string[]>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) === index.get(v)) {
      const part: string[] = []
      let w
      do { w = stack.pop() as string; onStack.delete(w); part.push(w) } while (w !== v)
      if (part.length > 1) found.push(part)
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

t.test('no import cycles, type-only imports included', async t => {
  const files = (await Promise.all(DIRS.map(async d => await tsFiles(path.join(ROOT, d))))).flat()
  const known = new Set(files)
  const graph = new Map<string, string[]>()
  for (const f of files) {
    const src = await readFile(f, 'utf8')
    const deps = [...src.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]/gm)].map(m => path.resolve(path.dirname(f), m[1] as string))
    graph.set(f, deps.filter(d => known.has(d)))
  }
  t.ok(graph.size > 100, `${graph.size} files read`)
  t.same(cycles(graph).map(c => c.map(f => path.relative(ROOT, f)).sort()), [])
})

t.test('the eslint config reports a cycle between two .ts files', async t => {
  const dir = await mkdtemp(path.join(ROOT, 'test/lint/.cycle-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'a.ts'), "import { b } from './b.ts'\nexport const a = (): number => b() + 1\n")
  await writeFile(path.join(dir, 'b.ts'), "import { a } from './a.ts'\nexport const b = (): number => a() - 1\n")
  const [result] = await new ESLint({ cwd: ROOT }).lintFiles([path.join(dir, 'a.ts')])
  t.match(result?.messages, [{ ruleId: 'import-x/no-cycle' }])
})
