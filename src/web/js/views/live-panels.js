// The live console and stats of one server (PROTOCOL.md 1.1 `console`, `stats`), shown only
// when the hub's `ready.features` lists them. Lines are rendered as text, never as HTML.
import { html, useEffect, useRef, useState } from '/vendor/preact-htm.js'
import { parseAnsi } from '../ansi.js'

const MAX_LINES = 1000
const MAX_POINTS = 300
const frameListeners = new Set()
/** main.js passes every panel frame here too. */
export function liveFrame (msg) { for (const fn of frameListeners) fn(msg) }

function useFrames (fn, deps) {
  useEffect(() => { frameListeners.add(fn); return () => frameListeners.delete(fn) }, deps)
}

/** A refused `console.send` (an `error` frame) in words; RATE_LIMITED says how long to wait. */
export function describeConsoleError (err) {
  if (err?.code === 'RATE_LIMITED') {
    const ms = Number(err.data?.retryAfterMs)
    return `Too many commands. Try again in ${Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000) : 1} s.`
  }
  if (err?.code === 'FORBIDDEN') return 'You may not send input to this console.'
  if (err?.code === 'CONFLICT') return 'The server is not running.'
  if (err?.code === 'NOT_READY') return 'The node does not accept console input (agent offline or too old).'
  return err?.message ?? String(err)
}

export function ConsolePanel ({ ctx, serverId, status, onSent = () => {} }) {
  const [lines, setLines] = useState([])
  const [dropped, setDropped] = useState(0)
  const [error, setError] = useState(null)
  const [input, setInput] = useState('')
  const [revoked, setRevoked] = useState(false)
  const box = useRef(null)
  useFrames(msg => {
    if (msg.type === 'console' && msg.serverId === serverId) {
      if (msg.dropped > 0) setDropped(n => n + msg.dropped)
      setLines(cur => {
        const base = msg.replay === true && cur.replayDone !== false ? [] : cur
        const next = [...base, ...msg.lines].slice(-MAX_LINES)
        next.replayDone = msg.replay === true ? false : undefined
        return next
      })
    } else if (msg.type === 'error' && Array.isArray(msg.data?.console) && msg.data.console.includes(serverId)) {
      // The hub ended the stream; a reconnect must not ask for it again (it would be refused).
      ctx.live.dropConsole(serverId)
      setRevoked(true)
      setError('Your console permission was revoked: the console no longer updates and takes no input.')
    }
  }, [serverId])
  useEffect(() => {
    ctx.live.watch([serverId], { console: true }).catch(err => setError(err?.code === 'FORBIDDEN' ? 'You may not use this console.' : err?.message ?? 'The console is not available.'))
    return () => ctx.live.unwatchLive(serverId)
  }, [serverId])
  useEffect(() => { const el = box.current; if (el !== null) el.scrollTop = el.scrollHeight }, [lines])

  const send = async e => {
    e.preventDefault()
    const text = input.trim()
    if (text === '') return
    setError(null)
    try {
      const r = await ctx.live.consoleSend(serverId, text)
      setInput('')
      onSent({ actionId: r.actionId, input: text })
    } catch (err) {
      setError(describeConsoleError(err))
    }
  }
  const live = status === 'RUNNING' || status === 'STARTING'
  return html`<section aria-labelledby="console-h" class="console">
    <h2 id="console-h">Console</h2>
    <pre ref=${box} class="console-out" tabindex="0" aria-label="Console output" aria-live="off">${lines.map((l, i) =>
      html`<div key=${i}>${parseAnsi(l).map(seg => seg.cls === '' ? seg.text : html`<span class=${seg.cls}>${seg.text}</span>`)}</div>`)}</pre>
    ${dropped > 0 && html`<p class="hint">${dropped} lines were skipped (slow connection).</p>`}
    ${!revoked && html`<form onSubmit=${send} class="console-in">
      <label for="console-input">Command</label>
      <input id="console-input" value=${input} maxlength="1024" disabled=${!live} onInput=${e => setInput(e.currentTarget.value)} autocomplete="off" />
      <button type="submit" disabled=${!live || input.trim() === ''}>Send</button>
    </form>`}
    <${ErrorLine} error=${error} />
  </section>`
}

const ErrorLine = ({ error }) => error === null ? null : html`<p class="error" role="alert">${error}</p>`

export function StatsPanel ({ ctx, serverId }) {
  const [points, setPoints] = useState([])
  useFrames(msg => {
    if (msg.type === 'stats' && msg.serverId === serverId) setPoints(p => [...p, msg].slice(-MAX_POINTS))
  }, [serverId])
  useEffect(() => {
    ctx.live.watch([serverId], { stats: true }).catch(() => {})
    return () => ctx.live.unwatchLive(serverId)
  }, [serverId])
  const last = points[points.length - 1]
  const mb = b => `${(b / 1048576).toFixed(1)} MiB`
  return html`<section aria-labelledby="stats-h" class="stats">
    <h2 id="stats-h">Stats</h2>
    ${last === undefined
      ? html`<p>No stats yet (they arrive while the server runs).</p>`
      : html`<dl class="facts">
          <dt>CPU</dt><dd>${last.cpuPercent.toFixed(1)} %</dd>
          <dt>Memory</dt><dd>${mb(last.memoryBytes)}${last.memoryLimitBytes ? ` of ${mb(last.memoryLimitBytes)}` : ''}</dd>
          ${last.players !== undefined && html`<dt>Players</dt><dd>${last.players}</dd>`}
        </dl>
        <${Spark} label="CPU since the page opened" values=${points.map(p => p.cpuPercent)} />
        <${Spark} label="Memory since the page opened" values=${points.map(p => p.memoryBytes)} />`}
  </section>`
}

function Spark ({ label, values }) {
  const max = Math.max(1, ...values)
  const w = 300
  const h = 40
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${h - (v / max) * h}`).join(' ')
  return html`<figure class="spark"><svg viewBox=${`0 0 ${w} ${h}`} role="img" aria-label=${label} preserveAspectRatio="none">
    <polyline points=${pts} fill="none" stroke="currentColor" stroke-width="1.5" /></svg><figcaption>${label}</figcaption></figure>`
}
