import neostandard from 'neostandard'
import { importX, createNodeResolver } from 'eslint-plugin-import-x'

export default [
  ...neostandard({
    ts: true,
    ignores: ['src/db/generated/**', 'node_modules/**', '.data/**', 'coverage/**', '.tap/**', 'bench/results/**']
  }),
  // No import cycles (STYLE.md): shared types go to a leaf types.ts. Relative imports carry their
  // `.ts` extension, so Node's own resolution finds them; `extensions` makes the plugin parse
  // .ts files at all (without it, every cycle through TypeScript passes silently).
  {
    files: ['**/*.ts', '**/*.js'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })]
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] }
  },
  {
    // The web panel's modules run in the browser.
    files: ['src/web/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['location', 'history', 'addEventListener', 'removeEventListener', 'requestAnimationFrame', 'navigator', 'document'].map(g => [g, 'readonly']))
    }
  }
]
