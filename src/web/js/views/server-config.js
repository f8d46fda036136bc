// A server's configuration (PROTOCOL.md 1.1 provisioning): its name, the template's variables as
// its environment, the memory limit and the auto-restart policy; saved with PATCH
// /api/servers/:id (environment replaced whole). The create form of the admin page shares the
// limit and auto-restart fields (`LimitFields`, `limitsOf`). Bounds match the hub's schemas
// (src/hub/provisioning/schemas.ts), so the browser refuses what the hub would.
import { html, useEffect, useState } from '/vendor/preact-htm.js'
import { describeError } from '../api.js'
import { ErrorText } from '../ui.js'

export const MEMORY_MB = { min: 64, max: 1048576 }
export const MAX_RESTARTS = { min: 1, max: 100 }
export const WINDOW_S = { min: 10, max: 86400 }
const AUTO_RESTART_DEFAULT = { enabled: false, maxRestarts: 3, windowS: 300 }

/** Memory limit and auto-restart inputs; `prefix` keeps ids unique on a page. */
export function LimitFields ({ prefix, server }) {
  const auto = server?.autoRestart ?? AUTO_RESTART_DEFAULT
  const [enabled, setEnabled] = useState(auto.enabled)
  return html`
    <label for=${`${prefix}-mem`}>Memory limit (MiB, empty for none)</label>
    <input id=${`${prefix}-mem`} name="memoryLimitMb" type="number" min=${MEMORY_MB.min} max=${MEMORY_MB.max} step="1" defaultValue=${server?.memoryLimitMb ?? ''} />
    <span></span>
    <label class="perm"><input id=${`${prefix}-auto`} name="autoRestart" type="checkbox" checked=${enabled} onChange=${e => setEnabled(e.currentTarget.checked)} /> Restart automatically after a crash</label>
    <label for=${`${prefix}-max`}>Restarts at most</label>
    <input id=${`${prefix}-max`} name="maxRestarts" type="number" required min=${MAX_RESTARTS.min} max=${MAX_RESTARTS.max} step="1" disabled=${!enabled} defaultValue=${auto.maxRestarts} />
    <label for=${`${prefix}-window`}>Within (seconds)</label>
    <input id=${`${prefix}-window`} name="windowS" type="number" required min=${WINDOW_S.min} max=${WINDOW_S.max} step="1" disabled=${!enabled} defaultValue=${auto.windowS} />`
}

/** `{memoryLimitMb, autoRestart}` from a form holding LimitFields (disabled inputs are absent). */
export function limitsOf (f) {
  const mem = String(f.get('memoryLimitMb') ?? '').trim()
  const enabled = f.get('autoRestart') !== null
  const autoRestart = { enabled }
  if (enabled) {
    autoRestart.maxRestarts = Number(f.get('maxRestarts'))
    autoRestart.windowS = Number(f.get('windowS'))
  }
  return { memoryLimitMb: mem === '' ? null : Number(mem), autoRestart }
}

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
    const body = {
      name: String(f.get('name') ?? '').trim(),
      environment: Object.fromEntries(variables.map(v => [v.name, String(f.get(`env-${v.name}`) ?? '')]).filter(([, v]) => v !== '')),
      ...limitsOf(f)
    }
    try {
      const updated = await ctx.api.patch(`/api/servers/${server.id}`, body)
      setSaved(`Saved (revision ${updated.configRevision ?? '?'}). It takes effect at the next start.`)
      onSaved(updated)
    } catch (err) {
      setError(describeError(err))
    }
  }

  return html`<section aria-labelledby="config-h">
    <h2 id="config-h">Configuration</h2>
    ${alt !== null && html`<p class="hint">Template ${alt.name}: <code>${alt.startup}</code></p>`}
    <form onSubmit=${save} class="grid-form" aria-label="Server configuration">
      <label for="cfg-name">Server name</label>
      <input id="cfg-name" name="name" required maxlength="128" defaultValue=${server.name} />
      ${variables.map(v => html`<label for=${`env-${v.name}`}>${v.name}${v.description ? ` (${v.description})` : ''}</label>
        <input id=${`env-${v.name}`} name=${`env-${v.name}`} defaultValue=${env[v.name] ?? ''} placeholder=${v.default ?? ''} autocomplete="off" />`)}
      <${LimitFields} prefix="cfg" server=${server} />
      <button type="submit">Save configuration</button>
    </form>
    ${saved !== null && html`<p role="status">${saved}</p>`}
    <${ErrorText} error=${error} />
  </section>`
}
