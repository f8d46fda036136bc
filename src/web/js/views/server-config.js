// A server's configuration (PROTOCOL.md 1.1 provisioning): the template's variables as its
// environment, the memory limit; saved with PATCH /api/servers/:id (environment replaced whole).
import { html, useEffect, useState } from '/vendor/preact-htm.js'
import { describeError } from '../api.js'
import { ErrorText } from '../ui.js'

export function ServerConfig ({ ctx, server, onSaved }) {
  const [alt, setAlt] = useState(null)
  const [error, setError] = useState(null)
  const [saved, setSaved] = useState(null)
  useEffect(() => {
    if (server.altId === undefined) return
    ctx.api.get(`/api/alts/${server.altId}`).then(setAlt, err => setError(describeError(err)))
  }, [server.altId])
  const variables = Array.isArray(alt?.variables) ? alt.variables : []
  const env = server.environment ?? {}

  const save = async e => {
    e.preventDefault()
    const f = new FormData(e.currentTarget)
    setError(null)
    setSaved(null)
    const body = { environment: Object.fromEntries(variables.map(v => [v.name, String(f.get(`env-${v.name}`) ?? '')]).filter(([, v]) => v !== '')) }
    const mem = String(f.get('memoryLimitMb') ?? '').trim()
    body.memoryLimitMb = mem === '' ? null : Number(mem)
    try {
      const updated = await ctx.api.patch(`/api/servers/${server.id}`, body)
      setSaved(`Saved (revision ${updated.configRevision ?? '?'}).`)
      onSaved(updated)
    } catch (err) {
      setError(describeError(err))
    }
  }

  return html`<section aria-labelledby="config-h">
    <h2 id="config-h">Configuration</h2>
    ${alt !== null && html`<p class="hint">Template ${alt.name}: <code>${alt.startup}</code></p>`}
    <form onSubmit=${save} class="grid-form" aria-label="Server configuration">
      ${variables.map(v => html`<label for=${`env-${v.name}`}>${v.name}${v.description ? ` (${v.description})` : ''}</label>
        <input id=${`env-${v.name}`} name=${`env-${v.name}`} defaultValue=${env[v.name] ?? ''} placeholder=${v.default ?? ''} autocomplete="off" />`)}
      <label for="cfg-mem">Memory limit (MiB, empty for none)</label>
      <input id="cfg-mem" name="memoryLimitMb" type="number" min="64" max="1048576" defaultValue=${server.memoryLimitMb ?? ''} />
      <button type="submit">Save configuration</button>
    </form>
    ${saved !== null && html`<p role="status">${saved}</p>`}
    <${ErrorText} error=${error} />
  </section>`
}
