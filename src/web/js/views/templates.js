// Templates (PROTOCOL.md 1.1 "Server configuration"): listed for everyone; created, changed and
// deleted by users with servers.create. The browser checks what it can before sending (names,
// the readiness regex compiles and fits 512 characters, placeholders name declared variables or
// built-ins); the hub checks everything again and its 400 names the field.
import { html, useEffect, useState } from '/vendor/preact-htm.js'
import { describeError } from '../api.js'
import { can, ConfirmButton, ErrorText } from '../ui.js'

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']
const BUILT_INS = ['SERVER_PORT', 'SERVER_MEMORY']
const RESERVED = new Set([...BUILT_INS, 'PATH', 'HOME', 'LANG'])
const VARIABLE_NAME = /^[A-Z][A-Z0-9_]{0,63}$/
export const MAX_DONE_REGEX = 512
let nextKey = 1

/** The form's variables from a stored template: an empty, required default means "no default". */
const rowsOf = alt => (alt?.variables ?? []).map(v => ({ key: nextKey++, name: v.name, default: v.default ?? '', description: v.description ?? '', required: v.required === true || v.default === undefined }))

/** What the browser can refuse before the hub does; null when it finds nothing. */
export function templateProblem ({ startup, doneRegex, variables }) {
  const seen = new Set()
  for (const [i, v] of variables.entries()) {
    if (!VARIABLE_NAME.test(v.name)) return `Variable ${i + 1}: the name must be upper case letters, digits and _ (starting with a letter).`
    if (RESERVED.has(v.name)) return `Variable ${i + 1}: ${v.name} is reserved.`
    if (seen.has(v.name)) return `Variable ${i + 1}: ${v.name} is declared twice.`
    seen.add(v.name)
  }
  if (doneRegex.length > MAX_DONE_REGEX) return `The readiness regex has ${doneRegex.length} characters; at most ${MAX_DONE_REGEX}.`
  if (doneRegex !== '') {
    try { RegExp(doneRegex) } catch (err) { return `The readiness regex does not compile: ${err.message}` }
  }
  for (const m of startup.matchAll(/\{\{([^{}]*)\}\}/g)) {
    if (!seen.has(m[1]) && !BUILT_INS.includes(m[1])) return `The startup line uses {{${m[1]}}}: declare it as a variable or use ${BUILT_INS.join(' or ')}.`
  }
  return null
}

export function TemplatesAdmin ({ ctx }) {
  const [alts, setAlts] = useState(null)
  const [error, setError] = useState(null)
  const [editing, setEditing] = useState(null) // null: none; 'new'; or an alt
  const [notice, setNotice] = useState(null)
  const mayWrite = can(ctx.me, 'servers.create')
  const reload = () => ctx.api.get('/api/alts').then(r => setAlts(r.items), err => setError(describeError(err)))
  useEffect(() => { reload() }, [])
  const remove = async alt => {
    setError(null)
    setNotice(null)
    try {
      await ctx.api.del(`/api/alts/${alt.id}`)
      setNotice(`Template ${alt.name} deleted.`)
      reload()
    } catch (err) { setError(describeError(err)) }
  }
  const saved = alt => { setEditing(null); setNotice(`Template ${alt.name} saved.`); reload() }
  return html`<section aria-labelledby="templates-h">
    <h2 id="templates-h">Templates</h2>
    ${mayWrite && editing === null && html`<p><button type="button" onClick=${() => { setNotice(null); setEditing('new') }}>New template</button></p>`}
    ${editing !== null && html`<${TemplateForm} key=${editing === 'new' ? 'new' : editing.id} ctx=${ctx} alt=${editing === 'new' ? null : editing} onSaved=${saved} onCancel=${() => setEditing(null)} />`}
    ${notice !== null && html`<p role="status">${notice}</p>`}
    <${ErrorText} error=${error} />
    ${alts !== null && html`<div class="table-wrap"><table aria-label="Templates">
      <thead><tr><th scope="col">Name</th><th scope="col">Startup</th><th scope="col">Variables</th>${mayWrite && html`<th scope="col">Actions</th>`}</tr></thead>
      <tbody>${alts.map(a => html`<tr key=${a.id} data-alt=${a.name}><th scope="row">${a.name}</th><td><code>${a.startup}</code></td>
        <td>${(a.variables ?? []).length === 0 ? '—' : html`<ul class="vars">${a.variables.map(v => html`<li key=${v.name}><code>${v.name}</code>${v.default !== undefined && v.default !== '' ? ` = ${v.default}` : ''}${v.required === true ? ' (required)' : ''}${v.description ? ` — ${v.description}` : ''}</li>`)}</ul>`}</td>
        ${mayWrite && html`<td class="buttons"><button type="button" aria-label=${`Edit ${a.name}`} onClick=${() => { setNotice(null); setEditing(a) }}>Edit</button>
          <${ConfirmButton} label="Delete" name=${a.name} onConfirm=${() => remove(a)} /></td>`}</tr>`)}</tbody></table></div>`}
  </section>`
}

function TemplateForm ({ ctx, alt, onSaved, onCancel }) {
  const [vars, setVars] = useState(() => rowsOf(alt))
  const [stopType, setStopType] = useState(alt?.stop?.type ?? 'signal')
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const setVar = (key, field, value) => setVars(list => list.map(v => v.key === key ? { ...v, [field]: value } : v))

  const submit = async e => {
    e.preventDefault()
    const f = new FormData(e.currentTarget)
    const str = k => String(f.get(k) ?? '')
    const variables = vars.map(v => ({ ...v, name: v.name.trim() }))
    const problem = templateProblem({ startup: str('startup'), doneRegex: str('doneRegex'), variables })
    setError(problem)
    if (problem !== null) return
    const body = {
      name: str('name').trim(),
      image: str('image').trim(),
      startup: str('startup'),
      stop: { type: stopType, value: str('stopValue'), graceS: Number(str('graceS')) },
      doneRegex: str('doneRegex') === '' ? null : str('doneRegex'),
      install: str('install').trim() === '' ? null : str('install'),
      // A required variable with an empty default has none; an optional one keeps '' as its default.
      variables: variables.map(v => ({
        name: v.name,
        ...(v.required && v.default === '' ? {} : { default: v.default }),
        ...(v.description === '' ? {} : { description: v.description }),
        required: v.required
      }))
    }
    if (alt === null) {
      if (body.doneRegex === null) delete body.doneRegex
      if (body.install === null) delete body.install
    }
    setBusy(true)
    try {
      onSaved(alt === null ? await ctx.api.post('/api/alts', body) : await ctx.api.patch(`/api/alts/${alt.id}`, body))
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }

  const title = alt === null ? 'New template' : `Edit template ${alt.name}`
  return html`<form onSubmit=${submit} class="template-form" aria-label=${title}>
    <h3>${title}</h3>
    <div class="grid-form">
      <label for="t-name">Template name</label>
      <input id="t-name" name="name" required maxlength="128" pattern="[A-Za-z0-9_.\\-]+" title="letters, digits, _ . -" defaultValue=${alt?.name ?? ''} />
      <label for="t-image">Image</label>
      <input id="t-image" name="image" required maxlength="512" defaultValue=${alt?.image ?? ''} />
      <label for="t-startup">Startup line</label>
      <textarea id="t-startup" name="startup" required maxlength="4096" rows="2" aria-describedby="t-startup-hint">${alt?.startup ?? ''}</textarea>
      <span></span><small id="t-startup-hint" class="hint">Placeholders: {{NAME}} of a variable, {{SERVER_PORT}}, {{SERVER_MEMORY}}. Write them bare (values are shell-quoted).</small>
      <label for="t-stop-type">Stop by</label>
      <select id="t-stop-type" value=${stopType} onChange=${e => setStopType(e.currentTarget.value)}>
        <option value="signal">signal</option><option value="command">console command</option>
      </select>
      <label for="t-stop-value">${stopType === 'signal' ? 'Stop signal' : 'Stop command'}</label>
      ${stopType === 'signal'
        ? html`<select id="t-stop-value" name="stopValue" key="sig">${SIGNALS.map(s => html`<option value=${s} selected=${(alt?.stop?.type === 'signal' ? alt.stop.value : 'SIGTERM') === s}>${s}</option>`)}</select>`
        : html`<input id="t-stop-value" name="stopValue" key="cmd" required maxlength="256" defaultValue=${alt?.stop?.type === 'command' ? alt.stop.value : 'stop'} />`}
      <label for="t-grace">Grace before SIGTERM (s)</label>
      <input id="t-grace" name="graceS" type="number" required min="1" max="3600" defaultValue=${alt?.stop?.graceS ?? 30} />
      <label for="t-done">Readiness regex (optional)</label>
      <input id="t-done" name="doneRegex" maxlength=${MAX_DONE_REGEX} defaultValue=${alt?.doneRegex ?? ''} placeholder="e.g. Done \\(" />
      <label for="t-install">Install script (optional)</label>
      <textarea id="t-install" name="install" maxlength="32768" rows="4">${alt?.install ?? ''}</textarea>
    </div>
    <fieldset class="variables">
      <legend>Variables</legend>
      ${vars.length === 0 && html`<p class="hint">No variables.</p>`}
      ${vars.map((v, i) => html`<div class="variable" key=${v.key} role="group" aria-label=${`Variable ${i + 1}`}>
        <label for=${`tv-name-${v.key}`}>Variable ${i + 1} name</label>
        <input id=${`tv-name-${v.key}`} value=${v.name} required maxlength="64" pattern="[A-Z][A-Z0-9_]{0,63}" title="upper case letters, digits and _" onInput=${e => setVar(v.key, 'name', e.currentTarget.value)} />
        <label for=${`tv-default-${v.key}`}>Variable ${i + 1} default</label>
        <input id=${`tv-default-${v.key}`} value=${v.default} maxlength="4096" onInput=${e => setVar(v.key, 'default', e.currentTarget.value)} />
        <label for=${`tv-desc-${v.key}`}>Variable ${i + 1} description</label>
        <input id=${`tv-desc-${v.key}`} value=${v.description} maxlength="1024" onInput=${e => setVar(v.key, 'description', e.currentTarget.value)} />
        <label class="perm"><input type="checkbox" checked=${v.required} onChange=${e => setVar(v.key, 'required', e.currentTarget.checked)} /> Variable ${i + 1} required</label>
        <button type="button" class="danger" onClick=${() => setVars(list => list.filter(x => x.key !== v.key))}>Remove variable ${i + 1}</button>
      </div>`)}
      <button type="button" onClick=${() => setVars(list => [...list, { key: nextKey++, name: '', default: '', description: '', required: false }])}>Add variable</button>
    </fieldset>
    <${ErrorText} error=${error} />
    <div class="buttons">
      <button type="submit" disabled=${busy}>${alt === null ? 'Create template' : 'Save template'}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`
}
