// Administration: nodes (agent token shown once), users and permissions, servers, templates.
import { html, useEffect, useState } from '/vendor/preact-htm.js'
import { describeError } from '../api.js'
import { can, ConfirmButton, ErrorText, Link, navigate } from '../ui.js'
import { TemplatesAdmin } from './templates.js'
import { LimitFields, limitsOf } from './server-config.js'

const PERMISSIONS = ['servers.view', 'servers.control', 'servers.console', 'servers.create', 'servers.delete', 'nodes.manage', 'users.manage']

const TABS = [
  ['nodes', 'Nodes', 'nodes.manage'],
  ['users', 'Users', 'users.manage'],
  ['servers', 'Servers', 'servers.create'],
  ['templates', 'Templates', null]
]

export function AdminView ({ path, ctx }) {
  const tabs = TABS.filter(([, , perm]) => perm === null || can(ctx.me, perm))
  const tab = path.split('/')[2] ?? 'nodes'
  useEffect(() => { if (!tabs.some(([t]) => t === tab) && tabs.length > 0) navigate(`/admin/${tabs[0][0]}`) }, [tab])
  const View = { nodes: NodesAdmin, users: UsersAdmin, servers: ServersAdmin, templates: TemplatesAdmin }[tab] ?? TemplatesAdmin
  return html`<main class="admin">
    <h1>Administration</h1>
    <nav aria-label="Administration" class="tabs">${tabs.map(([t, label]) =>
      html`<${Link} href=${`/admin/${t}`} aria-current=${t === tab ? 'page' : undefined}>${label}</${Link}>`)}</nav>
    <${View} key=${tab} ctx=${ctx} />
  </main>`
}

/** A list loaded from the API, with an error and a reload. */
function useList (ctx, path) {
  const [items, setItems] = useState(null)
  const [error, setError] = useState(null)
  const reload = () => ctx.api.get(path).then(r => { setItems(r.items); setError(null) }, err => setError(describeError(err)))
  useEffect(() => { reload() }, [path])
  return [items, error, reload, setItems]
}

function useAction () {
  const [error, setError] = useState(null)
  const run = fn => async (...args) => {
    setError(null)
    try { await fn(...args) } catch (err) { setError(describeError(err)) }
  }
  return [error, run]
}

function TokenBox ({ ctx, node, token, onClose }) {
  const [copied, setCopied] = useState('')
  const hubUrl = ctx.config?.agentHubUrl ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/agent/v1`
  const line = `AGENT_HUB_URL=${hubUrl} AGENT_TOKEN=${token} npm run agent`
  const copy = async (text, what) => {
    try { await navigator.clipboard.writeText(text); setCopied(`${what} copied.`) } catch { setCopied('Copy failed: select the text and copy it by hand.') }
  }
  return html`<div class="token-box" role="region" aria-label=${`Agent token of ${node.name}`}>
    <p><strong>Agent token of ${node.name}.</strong> It is shown only this once: copy it now.</p>
    <label for="agent-token">Token</label>
    <textarea id="agent-token" readonly rows="3">${token}</textarea>
    <label for="agent-line">Run the agent on the node</label>
    <textarea id="agent-line" readonly rows="3">${line}</textarea>
    <p class="hint">For a lasting install, keep the token in a file only the agent's user can read and set <code>AGENT_TOKEN_FILE</code> instead of <code>AGENT_TOKEN</code> (docs/agent.md): an environment variable stays readable in /proc by the agent's user.</p>
    <div class="buttons">
      <button type="button" onClick=${() => copy(token, 'Token')}>Copy token</button>
      <button type="button" onClick=${() => copy(line, 'Command')}>Copy command</button>
      <button type="button" onClick=${onClose}>Done</button>
    </div>
    <p role="status" class="hint">${copied}</p>
  </div>`
}

function NodesAdmin ({ ctx }) {
  const [nodes, listError, reload] = useList(ctx, '/api/nodes')
  const [error, run] = useAction()
  const [shown, setShown] = useState(null)
  const create = run(async e => {
    e.preventDefault()
    const form = e.currentTarget
    const res = await ctx.api.post('/api/nodes', { name: String(new FormData(form).get('name')).trim() })
    form.reset()
    setShown({ node: res.node, token: res.agentToken })
    reload()
  })
  const rotate = run(async node => {
    const res = await ctx.api.post(`/api/nodes/${node.id}/token`)
    setShown({ node, token: res.agentToken })
  })
  const remove = run(async node => { await ctx.api.del(`/api/nodes/${node.id}`); reload() })
  return html`<section aria-labelledby="nodes-h">
    <h2 id="nodes-h">Nodes</h2>
    <form onSubmit=${create} class="inline-form">
      <label for="node-name">New node name</label>
      <input id="node-name" name="name" required maxlength="64" pattern="[A-Za-z0-9_.\\-]+" />
      <button type="submit">Create node</button>
    </form>
    ${shown !== null && html`<${TokenBox} ctx=${ctx} ...${shown} onClose=${() => setShown(null)} />`}
    <${ErrorText} error=${error ?? listError} />
    ${nodes !== null && html`<div class="table-wrap"><table aria-label="Nodes">
      <thead><tr><th scope="col">Name</th><th scope="col">Agent</th><th scope="col">Last seen</th><th scope="col">Actions</th></tr></thead>
      <tbody>${nodes.map(n => html`<tr key=${n.id}><th scope="row">${n.name}</th>
        <td><span class=${`presence presence-${ctx.store.state.presence.get(n.id) ?? n.connected ? 'online' : 'offline'}`}>${ctx.store.state.presence.get(n.id) ?? n.connected ? 'online' : 'offline'}</span></td>
        <td>${n.lastSeenAt === null ? 'never' : new Date(n.lastSeenAt).toLocaleString()}</td>
        <td class="buttons"><button type="button" onClick=${() => rotate(n)} aria-label=${`Rotate token of ${n.name}`}>Rotate token</button>
          <${ConfirmButton} label="Delete" name=${n.name} onConfirm=${() => remove(n)} /></td></tr>`)}</tbody></table></div>`}
  </section>`
}

function UsersAdmin ({ ctx }) {
  const [users, listError, reload] = useList(ctx, '/api/users')
  const [error, run] = useAction()
  const create = run(async e => {
    e.preventDefault()
    const form = e.currentTarget
    const f = new FormData(form)
    await ctx.api.post('/api/users', { username: f.get('username'), email: f.get('email'), password: f.get('password'), role: f.get('role') })
    form.reset()
    reload()
  })
  const toggle = run(async (user, perm, on) => {
    if (on) await ctx.api.post(`/api/users/${user.id}/permissions`, { permission: perm })
    else await ctx.api.del(`/api/users/${user.id}/permissions/${perm}`)
    reload()
  })
  const remove = run(async user => { await ctx.api.del(`/api/users/${user.id}`); reload() })
  return html`<section aria-labelledby="users-h">
    <h2 id="users-h">Users</h2>
    <form onSubmit=${create} class="grid-form" aria-label="New user">
      <label for="u-name">Username</label><input id="u-name" name="username" required autocomplete="off" />
      <label for="u-email">Email</label><input id="u-email" name="email" type="email" required autocomplete="off" />
      <label for="u-pass">Password</label><input id="u-pass" name="password" type="password" required minlength="8" autocomplete="new-password" />
      <label for="u-role">Role</label><select id="u-role" name="role"><option value="USER">USER</option><option value="ADMIN">ADMIN</option></select>
      <button type="submit">Create user</button>
    </form>
    <${ErrorText} error=${error ?? listError} />
    ${users !== null && html`<div class="table-wrap"><table aria-label="Users">
      <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Permissions</th><th scope="col">Actions</th></tr></thead>
      <tbody>${users.map(u => html`<tr key=${u.id} data-user=${u.username}><th scope="row">${u.username}<br /><small>${u.email}</small></th>
        <td>${u.role}</td>
        <td><fieldset class="perms"><legend class="sr-only">Permissions of ${u.username}</legend>${PERMISSIONS.map(p => {
          const has = (u.permissions ?? []).includes(p)
          return html`<label class="perm"><input type="checkbox" checked=${has} disabled=${u.role === 'ADMIN'} onChange=${e => toggle(u, p, e.currentTarget.checked)} /> ${p}</label>`
        })}</fieldset></td>
        <td>${u.id !== ctx.me.id && html`<${ConfirmButton} label="Delete" name=${u.username} onConfirm=${() => remove(u)} />`}</td></tr>`)}</tbody></table></div>`}
  </section>`
}

function ServersAdmin ({ ctx }) {
  const [alts] = useList(ctx, '/api/alts')
  const [nodes] = useList(ctx, '/api/nodes')
  const [users] = useList(ctx, '/api/users')
  const [error, run] = useAction()
  const [altId, setAltId] = useState('')
  const [formKey, setFormKey] = useState(0)
  const servers = [...ctx.store.state.servers.values()].sort((a, b) => a.name < b.name ? -1 : 1)
  const alt = alts?.find(a => a.id === altId) ?? alts?.[0]
  const variables = Array.isArray(alt?.variables) ? alt.variables : []
  const create = run(async e => {
    e.preventDefault()
    const f = new FormData(e.currentTarget)
    const body = { name: f.get('name'), nodeId: f.get('nodeId'), altId: f.get('altId'), ownerId: f.get('ownerId') || ctx.me.id, port: Number(f.get('port')), ...limitsOf(f) }
    if (body.memoryLimitMb === null) delete body.memoryLimitMb
    if (variables.length > 0) {
      body.environment = Object.fromEntries(variables.map(v => [v.name, String(f.get(`var-${v.name}`) ?? '')]).filter(([, v]) => v !== ''))
    }
    const server = await ctx.api.post('/api/servers', body)
    // A fresh form (not form.reset(): the auto-restart switch is component state).
    setAltId('')
    setFormKey(k => k + 1)
    await ctx.track(server)
  })
  const remove = run(async s => { await ctx.api.del(`/api/servers/${s.id}`); ctx.live.forget([s.id]); ctx.store.remove([s.id]) })
  return html`<section aria-labelledby="servers-h">
    <h2 id="servers-h">Servers</h2>
    <form key=${formKey} onSubmit=${create} class="grid-form" aria-label="New server">
      <label for="s-name">Name</label><input id="s-name" name="name" required maxlength="128" />
      <label for="s-node">Node</label><select id="s-node" name="nodeId" required>${(nodes ?? []).map(n => html`<option value=${n.id}>${n.name}</option>`)}</select>
      <label for="s-alt">Template</label><select id="s-alt" name="altId" required onChange=${e => setAltId(e.currentTarget.value)}>${(alts ?? []).map(a => html`<option value=${a.id}>${a.name}</option>`)}</select>
      <label for="s-owner">Owner</label><select id="s-owner" name="ownerId">${(users ?? [ctx.me]).map(u => html`<option value=${u.id}>${u.username}</option>`)}</select>
      <label for="s-port">Port</label><input id="s-port" name="port" type="number" min="1" max="65535" required />
      ${variables.map(v => html`<label for=${`var-${v.name}`}>${v.name}${v.description ? ` (${v.description})` : ''}</label>
        <input id=${`var-${v.name}`} name=${`var-${v.name}`} placeholder=${v.default ?? ''} required=${v.default === undefined} />`)}
      <${LimitFields} prefix="s" />
      <button type="submit">Create server</button>
    </form>
    <${ErrorText} error=${error} />
    <div class="table-wrap"><table aria-label="All servers">
      <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
      <tbody>${servers.map(s => html`<tr key=${s.id}><th scope="row"><${Link} href=${`/servers/${s.id}`}>${s.name}</${Link}></th><td>${s.status}</td>
        <td>${can(ctx.me, 'servers.delete') && html`<${ConfirmButton} label="Delete" name=${s.name} onConfirm=${() => remove(s)} />`}</td></tr>`)}</tbody>
    </table></div>
  </section>`
}
