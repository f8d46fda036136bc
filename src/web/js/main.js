// The panel's entry: sign-in, the live connection, and the routes.
import { html, render, useEffect, useState } from '/vendor/preact-htm.js'
import { createApi, describeError } from './api.js'
import { createLive } from './live.js'
import { createStore } from './store.js'
import { can, Link, navigate, onRoute, ErrorText } from './ui.js'
import { ServersView } from './views/servers.js'
import { ServerView } from './views/server.js'
import { AdminView } from './views/admin.js'
import { liveFrame } from './views/live-panels.js'

const store = createStore()
let signOutNotice = null
const api = createApi({ onSignedOut: reason => { signOutNotice = reason; live.reset(); rerenderRoot() } })
const live = createLive({
  api,
  onState: conn => {
    store.setConn(conn)
    if (conn === 'unauthorized') api.logout().then(() => { signOutNotice = 'Your session ended. Please sign in again.'; rerenderRoot() })
  },
  onRefused: () => { reloadList().catch(() => {}) },
  onFrame: msg => {
    if (msg.type === 'ready') store.setFeatures(msg.features ?? [])
    // Servers that left the caller's view must not be asked for again on a reconnect.
    if (msg.type === 'error' && msg.code === 'FORBIDDEN' && Array.isArray(msg.data?.servers)) live.forget(msg.data.servers)
    store.apply(msg)
    liveFrame(msg)
  }
})
const ctx = { api, live, store, config: null, me: null }

let rerenderRoot = () => {}

/** Loads who we are and what we may see, then goes live. */
async function start () {
  ctx.me = await api.get('/api/me')
  const [items] = await Promise.all([api.all('/api/servers'), loadNodes()])
  store.setList(items)
  live.start()
  live.watch(items.map(s => s.id)).catch(() => {})
}

/** Node names and presence, for those who may list nodes. */
async function loadNodes () {
  if (!can(ctx.me, 'nodes.manage')) return
  const nodes = await api.get('/api/nodes').catch(() => null)
  for (const n of nodes?.items ?? []) store.state.presence.set(n.id, n.connected)
  for (const n of nodes?.items ?? []) ctx.nodeNames = { ...ctx.nodeNames, [n.id]: n.name }
}

/** The list again from REST, and exactly those servers watched (after a refused resubscribe). */
async function reloadList () {
  const items = await api.all('/api/servers')
  store.setList(items)
  await live.rewatch(items.map(s => s.id))
}

/**
 * Servers created elsewhere after sign-in (another admin, `npm run simulate`) join the table: the
 * panel protocol has no "server created" event, so while live and visible the panel looks for
 * new ones every DISCOVER_MS. Statuses stay pushed; this only finds new rows.
 */
const DISCOVER_MS = 10_000
async function discover () {
  if (!api.signedIn || !store.state.loaded || store.state.conn !== 'live' || document.visibilityState !== 'visible') return
  const items = await api.all('/api/servers')
  const fresh = items.filter(s => !store.state.servers.has(s.id))
  if (fresh.length === 0) return
  store.add(fresh)
  await live.watch(fresh.map(s => s.id))
  // New nodes' presence: events tell only changes after the subscribe, so read the state after it
  // (a node that connected before the subscribe sent no event the panel could see).
  if (fresh.some(s => !store.state.presence.has(s.nodeId))) {
    await loadNodes()
    store.changed()
  }
}

/** Servers created after sign-in (by an admin page) join the live table. */
ctx.track = async server => {
  store.upsert(server.id, server)
  await live.watch([server.id]).catch(() => {})
}

function Login ({ onDone }) {
  const [error, setError] = useState(signOutNotice)
  const [busy, setBusy] = useState(false)
  const submit = async e => {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    setBusy(true)
    setError(null)
    try {
      await api.login(String(form.get('username')), String(form.get('password')))
      signOutNotice = null
      onDone()
    } catch (err) {
      setError(err.status === 401 ? 'Wrong username or password.' : describeError(err))
    } finally {
      setBusy(false)
    }
  }
  return html`<main class="login">
    <h1>Game panel</h1>
    <form onSubmit=${submit} aria-describedby="login-error">
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" required autofocus />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <div id="login-error"><${ErrorText} error=${error} /></div>
    </form>
  </main>`
}

const BANNER = {
  lost: 'Connection to the hub lost. Reconnecting…',
  reconnecting: 'Connection to the hub lost. Reconnecting…'
}

function Shell () {
  const [, setTick] = useState(0)
  const [path, setPath] = useState(location.pathname)
  const [error, setError] = useState(null)
  const [ready, setReady] = useState(false)
  useEffect(() => store.subscribe(() => setTick(t => t + 1)), [])
  useEffect(() => onRoute(() => setPath(location.pathname)), [])
  useEffect(() => {
    start().then(() => setReady(true), err => setError(describeError(err)))
    const timer = setInterval(() => { discover().catch(() => {}) }, DISCOVER_MS)
    return () => clearInterval(timer)
  }, [])
  const signOut = async () => {
    live.reset()
    await api.logout()
    navigate('/')
    rerenderRoot()
  }
  if (error !== null) return html`<main><${ErrorText} error=${error} /><button type="button" onClick=${() => location.reload()}>Retry</button></main>`
  if (!ready) return html`<main><p>Loading…</p></main>`
  const me = ctx.me
  const admin = can(me, 'nodes.manage') || can(me, 'users.manage') || can(me, 'servers.create')
  const banner = BANNER[store.state.conn]
  let view
  const m = /^\/servers\/([0-9a-f-]{36})$/.exec(path)
  if (m !== null) view = html`<${ServerView} key=${m[1]} id=${m[1]} ctx=${ctx} />`
  else if (path.startsWith('/admin')) view = html`<${AdminView} path=${path} ctx=${ctx} />`
  else view = html`<${ServersView} ctx=${ctx} />`
  return html`<div class="shell">
    <header>
      <nav aria-label="Main">
        <${Link} href="/" class="brand">Game panel</${Link}>
        <${Link} href="/" aria-current=${path === '/' ? 'page' : undefined}>Servers</${Link}>
        ${admin && html`<${Link} href="/admin/nodes" aria-current=${path.startsWith('/admin') ? 'page' : undefined}>Admin</${Link}>`}
      </nav>
      <div class="who">
        <span class=${`conn conn-${store.state.conn}`} title="Connection">${store.state.conn === 'live' ? 'Live' : 'Offline'}</span>
        <span>${me.username}</span>
        <button type="button" onClick=${signOut}>Sign out</button>
      </div>
    </header>
    ${banner !== undefined && html`<div class="banner" role="status">${banner}</div>`}
    ${view}
  </div>`
}

function Root () {
  const [, setN] = useState(0)
  useEffect(() => { rerenderRoot = () => setN(n => n + 1) }, [])
  if (!api.signedIn) return html`<${Login} onDone=${() => setN(n => n + 1)} />`
  return html`<${Shell} />`
}

fetch('/api/config').then(r => r.json()).then(c => { ctx.config = c }, () => {})
const root = document.getElementById('app')
// Replace the boot message: preact renders next to children it did not create.
root.replaceChildren()
render(html`<${Root} />`, root)
