import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['src/db/generated/**', 'node_modules/**', '.data/**', 'coverage/**', '.tap/**', 'bench/results/**']
  }),
  {
    // The web panel's modules run in the browser.
    files: ['src/web/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['location', 'history', 'addEventListener', 'removeEventListener', 'requestAnimationFrame', 'navigator', 'document'].map(g => [g, 'readonly']))
    }
  }
]
