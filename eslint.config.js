import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['src/db/generated/**', 'node_modules/**', '.data/**', 'coverage/**', '.tap/**', 'bench/results/**']
  })
]
