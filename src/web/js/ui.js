// Small shared pieces: navigation, relative times, status badges, a two-step delete button.
import { html, useState } from '/vendor/preact-htm.js'

const routeListeners = new Set()
export function navigate (path) {
  if (location.pathname + location.search === path) return
  history.pushState(null, '', path)
  for (const fn of routeListeners) fn()
}
export function onRoute (fn) {
  routeListeners.add(fn)
  const pop = () => fn()
  addEventListener('popstate', pop)
  return () => { routeListeners.delete(fn); removeEventListener('popstate', pop) }
}

export function Link ({ href, children, ...rest }) {
  const click = e => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(href)
  }
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`
}

export function since (iso, now = Date.now()) {
  if (iso === undefined || iso === null) return ''
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

export function StatusBadge ({ status }) {
  const st = status ?? 'UNKNOWN'
  return html`<span class=${`badge status-${st.toLowerCase()}`}>${st}</span>`
}

export function ConfirmButton ({ label, onConfirm, disabled, name }) {
  const [armed, setArmed] = useState(false)
  if (!armed) return html`<button type="button" class="danger" disabled=${disabled} aria-label=${name ? `${label} ${name}` : label} onClick=${() => setArmed(true)}>${label}</button>`
  return html`<span class="confirm">
    <button type="button" class="danger" onClick=${() => { setArmed(false); onConfirm() }}>Confirm ${label.toLowerCase()}</button>
    <button type="button" onClick=${() => setArmed(false)}>Cancel</button>
  </span>`
}

export function ErrorText ({ error }) {
  if (!error) return null
  return html`<p class="error" role="alert">${error}</p>`
}

export function can (me, permission, ownerId) {
  if (me === null) return false
  return me.role === 'ADMIN' || me.permissions.includes(permission) || (ownerId !== undefined && ownerId === me.id)
}
