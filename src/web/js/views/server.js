// One server: power buttons (by status and permission), actions with live states, paged
// status history, and, when the hub offers them, the live console and stats.
import { html, useEffect, useState } from '/vendor/preact-htm.js'
import { describeError } from '../api.js'
import { StatusBadge, can, since, ErrorText, Link } from '../ui.js'
import { ConsolePanel, StatsPanel } from './live-panels.js'
import { ServerConfig } from './server-config.js'

/** Which power actions make sense in which status. */
const ENABLED_IN = {
  START: ['STOPPED', 'CRASHED'],
  STOP: ['STARTING', 'RUNNING'],
  RESTART: ['RUNNING'],
  KILL: ['STARTING', 'RUNNING', 'STOPPING', 'UNKNOWN']
}
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'])
const PAGE = 20

export function ServerView ({ id, ctx }) {
  const { api, store, me } = { ...ctx, me: ctx.me }
  const server = store.state.servers.get(id)
  const [detail, setDetail] = useState(null)
  const [loadError, setLoadError] = useState(null)
  const [actions, setActions] = useState([])
  const [transitions, setTransitions] = useState([])
  const [moreTransitions, setMoreTransitions] = useState(null)
  const [actionError, setActionError] = useState(null)
  const [busy, setBusy] = useState(false)
  const [, setTick] = useState(0)
  useEffect(() => store.onRow(id, () => setTick(n => n + 1)), [id])

  useEffect(() => {
    api.get(`/api/servers/${id}`).then(setDetail, err => setLoadError(describeError(err)))
    api.get(`/api/servers/${id}/actions?limit=20`).then(r => setActions(r.items), () => {})
    loadTransitions()
    return store.onAction(d => {
      if (d.serverId !== id) return
      setActions(list => {
        const i = list.findIndex(a => a.id === d.actionId)
        if (i === -1) return [{ id: d.actionId, action: d.action, state: d.state, timestamp: new Date().toISOString(), details: {} }, ...list].slice(0, 50)
        const copy = list.slice()
        copy[i] = { ...copy[i], state: d.state, error: d.error }
        return copy
      })
    })
  }, [id])

  // A new status: the history gains a row (re-read the first page; cheap and always right).
  const status = server?.status ?? detail?.status
  useEffect(() => { if (transitions.length > 0 || moreTransitions !== null) loadTransitions() }, [server?.updatedAt])

  function loadTransitions (before) {
    const q = `limit=${PAGE}${before === undefined ? '' : `&before=${before}`}`
    api.get(`/api/servers/${id}/transitions?${q}`).then(r => {
      setTransitions(list => before === undefined ? r.items : [...list, ...r.items])
      setMoreTransitions(r.next ?? (r.items.length === PAGE ? r.items[r.items.length - 1].id : null))
    }, () => {})
  }

  if (loadError !== null && server === undefined) return html`<main><h1>Server</h1><${ErrorText} error=${loadError} /><p><${Link} href="/">Back to servers</${Link}></p></main>`
  const s = { ...detail, ...server }
  if (s.name === undefined) return html`<main><p>Loading…</p></main>`
  const mayControl = can(me, 'servers.control', s.ownerId)
  const mayConsole = can(me, 'servers.console', s.ownerId)
  const features = store.state.features

  // console.sent: the COMMAND row carries its input (push events name only the action and state).
  const commandSent = ({ actionId, input }) => setActions(list => {
    const i = list.findIndex(a => a.id === actionId)
    if (i === -1) return [{ id: actionId, action: 'COMMAND', state: 'QUEUED', timestamp: new Date().toISOString(), details: { input } }, ...list].slice(0, 50)
    const copy = list.slice()
    copy[i] = { ...copy[i], details: { ...copy[i].details, input } }
    return copy
  })

  const act = async action => {
    setBusy(true)
    setActionError(null)
    try {
      const r = await api.post(`/api/servers/${id}/actions`, { action })
      setActions(list => list.some(a => a.id === r.actionId) ? list : [{ id: r.actionId, action, state: r.state, timestamp: new Date().toISOString(), details: {} }, ...list])
    } catch (err) {
      if (err.status === 409 && err.details.actionId !== undefined) {
        const blocking = actions.find(a => a.id === err.details.actionId)
        setActionError(`Refused: ${blocking === undefined ? err.message : `${blocking.action} ${err.details.actionId.slice(0, 8)} is still ${blocking.state}`}.`)
      } else if (err.status === 403) {
        setActionError(`Not allowed: ${err.message}`)
      } else setActionError(describeError(err))
    } finally {
      setBusy(false)
    }
  }

  return html`<main class="server">
    <p class="crumbs"><${Link} href="/">Servers</${Link}> / ${s.name}</p>
    <div class="title-row">
      <h1>${s.name}</h1>
      <p class="status-line"><${StatusBadge} status=${status} /> <span class="since">since ${since(s.updatedAt)}</span></p>
    </div>
    <dl class="facts">
      <dt>Node</dt><dd>${s.nodeName ?? ctx.nodeNames?.[s.nodeId] ?? s.nodeId}${store.state.presence.has(s.nodeId) ? (store.state.presence.get(s.nodeId) ? ' (online)' : ' (offline)') : ''}</dd>
      <dt>Owner</dt><dd>${s.ownerUsername ?? s.ownerId}</dd>
      ${s.port !== undefined && html`<dt>Port</dt><dd>${s.port}</dd>`}
    </dl>
    <section aria-labelledby="power-h">
      <h2 id="power-h">Power</h2>
      <div class="buttons" role="group" aria-label="Power actions">
        ${Object.entries(ENABLED_IN).map(([action, okIn]) => html`<button type="button" class=${action === 'KILL' ? 'danger' : ''}
          disabled=${busy || !mayControl || !okIn.includes(status)} onClick=${() => act(action)}>${action[0] + action.slice(1).toLowerCase()}</button>`)}
      </div>
      ${!mayControl && html`<p class="hint">You may view this server but not control it.</p>`}
      <${ErrorText} error=${actionError} />
    </section>
    ${(features.includes('console') && mayConsole) && html`<${ConsolePanel} ctx=${ctx} serverId=${id} status=${status} onSent=${commandSent} />`}
    ${features.includes('stats') && html`<${StatsPanel} ctx=${ctx} serverId=${id} />`}
    ${can(me, 'servers.create') && detail !== null && html`<${ServerConfig} ctx=${ctx} server=${detail} onSaved=${setDetail} />`}
    <section aria-labelledby="actions-h">
      <h2 id="actions-h">Actions</h2>
      ${actions.length === 0
        ? html`<p>No actions yet.</p>`
        : html`<div class="table-wrap"><table class="actions">
        <thead><tr><th scope="col">Action</th><th scope="col">State</th><th scope="col">When</th><th scope="col">Detail</th></tr></thead>
        <tbody>${actions.map(a => html`<tr key=${a.id} data-action=${a.id}>
          <td>${a.action}</td>
          <td><span class=${`state state-${a.state.toLowerCase()}${FINAL.has(a.state) ? ' final' : ''}`}>${a.state}</span></td>
          <td><time datetime=${a.timestamp}>${since(a.timestamp)}</time></td>
          <td>${a.error?.message ?? a.error?.code ?? (typeof a.error === 'string' ? a.error : '')}${a.details?.input !== undefined ? `> ${a.details.input}` : ''}</td>
        </tr>`)}</tbody></table></div>`}
    </section>
    <section aria-labelledby="history-h">
      <h2 id="history-h">Status history</h2>
      ${transitions.length === 0
        ? html`<p>No transitions yet.</p>`
        : html`<div class="table-wrap"><table class="transitions">
        <thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Reason</th><th scope="col">At</th></tr></thead>
        <tbody>${transitions.map(t => html`<tr key=${t.id}><td>${t.from ?? '—'}</td><td><${StatusBadge} status=${t.to} /></td><td>${t.reason ?? ''}</td>
          <td><time datetime=${t.at}>${new Date(t.at).toLocaleString()}</time></td></tr>`)}</tbody></table></div>`}
      ${moreTransitions !== null && html`<button type="button" onClick=${() => loadTransitions(moreTransitions)}>Older</button>`}
    </section>
  </main>`
}
