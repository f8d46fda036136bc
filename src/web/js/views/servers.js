// The live servers table: every server the user may see, statuses kept current by push.
import { html, Component, useEffect, useMemo, useState } from '/vendor/preact-htm.js'
import { Link, StatusBadge, since } from '../ui.js'

/** One row; it listens to its own server, so a status change redraws this row only. */
class Row extends Component {
  componentDidMount () { this.off = this.props.store.onRow(this.props.id, () => this.forceUpdate()) }
  componentWillUnmount () { this.off() }
  shouldComponentUpdate (next) {
    return next.online !== this.props.online || next.now !== this.props.now || next.nodeName !== this.props.nodeName
  }

  render ({ store, id, online, nodeName }) {
    const s = store.state.servers.get(id)
    if (s === undefined) return null
    const presence = online === undefined ? '' : online ? 'online' : 'offline'
    return html`<tr data-server=${s.id} role="row">
      <th scope="row" role="rowheader"><${Link} href=${`/servers/${s.id}`}>${s.name}</${Link}></th>
      <td role="cell">${nodeName}${presence !== '' && html` <span class=${`presence presence-${presence}`}>${presence}</span>`}</td>
      <td role="cell"><${StatusBadge} status=${s.status} /> <time datetime=${s.updatedAt} class="since">${since(s.updatedAt, this.props.now)}</time></td>
      <td role="cell">${s.ownerUsername ?? ''}</td>
    </tr>`
  }
}

export function ServersView ({ ctx }) {
  const { store } = ctx
  const [now, setNow] = useState(Date.now())
  const [filter, setFilter] = useState('')
  // "since" texts age: redraw them every 15 s (rows compare `now`, so only then).
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 15_000); return () => clearInterval(t) }, [])
  // The order changes only with membership or names: sort ids then, look servers up every render.
  const order = useMemo(() => [...store.state.servers.values()]
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0).map(s => s.id), [store.state.membership])
  const list = order.map(id => store.state.servers.get(id)).filter(s => s !== undefined)
  const f = filter.trim().toLowerCase()
  // A filter on status is applied when the view redraws (typing, membership), not on each event.
  const shown = f === '' ? list : list.filter(s => s.name.toLowerCase().includes(f) || (s.status ?? '').toLowerCase() === f)
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
        : html`<div class="table-wrap"><table class="servers" aria-label="Servers" role="table">
          <thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader">Name</th><th scope="col" role="columnheader">Node</th><th scope="col" role="columnheader">Status</th><th scope="col" role="columnheader">Owner</th></tr></thead>
          <tbody role="rowgroup">${shown.map(s => html`<${Row} key=${s.id} id=${s.id} store=${store} now=${now}
            online=${store.state.presence.get(s.nodeId)} nodeName=${s.nodeName ?? names[s.nodeId] ?? s.nodeId?.slice(0, 8)} />`)}</tbody>
        </table></div>
        <p class="count">${shown.length} of ${list.length} servers</p>`}
  </main>`
}
