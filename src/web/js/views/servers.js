// The live servers table: every server the user may see, statuses kept current by push.
import { html, Component, useEffect, useState } from '/vendor/preact-htm.js'
import { Link, StatusBadge, since } from '../ui.js'

class Row extends Component {
  shouldComponentUpdate (next) {
    return next.server !== this.props.server || next.online !== this.props.online || next.now !== this.props.now
  }

  render ({ server: s, online, nodeName }) {
    const presence = online === undefined ? '' : online ? 'online' : 'offline'
    return html`<tr data-server=${s.id}>
      <th scope="row"><${Link} href=${`/servers/${s.id}`}>${s.name}</${Link}></th>
      <td>${nodeName}${presence !== '' && html` <span class=${`presence presence-${presence}`}>${presence}</span>`}</td>
      <td><${StatusBadge} status=${s.status} /> <time datetime=${s.updatedAt} class="since">${since(s.updatedAt, this.props.now)}</time></td>
      <td>${s.ownerUsername ?? ''}</td>
    </tr>`
  }
}

export function ServersView ({ ctx }) {
  const { store } = ctx
  const [now, setNow] = useState(Date.now())
  const [filter, setFilter] = useState('')
  // "since" texts age: redraw them every 15 s (rows compare `now`, so only then).
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 15_000); return () => clearInterval(t) }, [])
  const list = [...store.state.servers.values()]
  const f = filter.trim().toLowerCase()
  const shown = (f === '' ? list : list.filter(s => s.name.toLowerCase().includes(f) || (s.status ?? '').toLowerCase() === f))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const names = ctx.nodeNames ?? {}
  return html`<main>
    <div class="title-row">
      <h1>Servers</h1>
      <label class="filter">Filter <input type="search" value=${filter} onInput=${e => setFilter(e.currentTarget.value)} placeholder="name or status" /></label>
    </div>
    ${!store.state.loaded
      ? html`<p>Loading…</p>`
      : list.length === 0
        ? html`<p>No servers you may see yet.</p>`
        : html`<div class="table-wrap"><table class="servers" aria-label="Servers">
          <thead><tr><th scope="col">Name</th><th scope="col">Node</th><th scope="col">Status</th><th scope="col">Owner</th></tr></thead>
          <tbody>${shown.map(s => html`<${Row} key=${s.id} server=${s} now=${now}
            online=${store.state.presence.get(s.nodeId)} nodeName=${s.nodeName ?? names[s.nodeId] ?? s.nodeId?.slice(0, 8)} />`)}</tbody>
        </table></div>
        <p class="count">${shown.length} of ${list.length} servers</p>`}
  </main>`
}
