/**
 * Tiny inline-SVG charts for the HTML report: a line chart and a bar chart, nothing else. Written
 * here rather than pulled from a charting library because the page must be self-contained (no
 * script, no external URL) and readable years later, and two chart kinds do not justify a dependency.
 */
const W = 720
const H = 260
const PAD = { left: 64, right: 16, top: 16, bottom: 40 }
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2']

export function escapeXml (s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export interface LineSeries { name: string, points: Array<[number, number]> }

/** "Nice" tick values covering [0, max]. */
function ticks (max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1]
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag
  const out: number[] = []
  for (let v = 0; v <= max + step / 2; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

const label = (v: number) => Math.abs(v) >= 10_000 ? `${(v / 1000).toFixed(0)}k` : Number(v.toPrecision(4)).toString()

function frame (title: string, xLabel: string, yLabel: string, xs: number[], ys: number[], sx: (v: number) => number, sy: (v: number) => number, body: string, legend: string): string {
  const grid = ys.map((v) => `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${sy(v)}" y2="${sy(v)}" stroke="#e5e7eb"/><text x="${PAD.left - 6}" y="${sy(v) + 4}" text-anchor="end">${label(v)}</text>`).join('')
  const xt = xs.map((v) => `<text x="${sx(v)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${label(v)}</text>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11" role="img" aria-label="${escapeXml(title)}">` +
    `<title>${escapeXml(title)}</title>${grid}${xt}` +
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#6b7280"/>` +
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#6b7280"/>` +
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>` +
    `<text transform="translate(14 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>` +
    `${body}${legend}</svg>`
}

export function lineChart (title: string, xLabel: string, yLabel: string, series: LineSeries[]): string {
  const all = series.flatMap((s) => s.points)
  const xMin = Math.min(0, ...all.map((p) => p[0]))
  const xMax = Math.max(1, ...all.map((p) => p[0]))
  const yTicks = ticks(Math.max(0, ...all.map((p) => p[1])))
  const yMax = yTicks[yTicks.length - 1] as number
  const sx = (v: number) => Number((PAD.left + (v - xMin) / (xMax - xMin || 1) * (W - PAD.left - PAD.right)).toFixed(1))
  const sy = (v: number) => Number((H - PAD.bottom - v / (yMax || 1) * (H - PAD.top - PAD.bottom)).toFixed(1))
  const xTicks = ticks(xMax - xMin, 8).map((v) => v + xMin)
  const body = series.map((s, i) => s.points.length === 0
    ? ''
    : `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' ')}"/>`).join('')
  const legend = series.map((s, i) => `<rect x="${PAD.left + 8 + i * 130}" y="${PAD.top}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${PAD.left + 22 + i * 130}" y="${PAD.top + 9}">${escapeXml(s.name)}</text>`).join('')
  return frame(title, xLabel, yLabel, xTicks, yTicks, sx, sy, body, legend)
}

export function barChart (title: string, xLabel: string, yLabel: string, bars: Array<{ label: string, value: number }>): string {
  const yTicks = ticks(Math.max(0, ...bars.map((b) => b.value)))
  const yMax = yTicks[yTicks.length - 1] as number
  const slot = (W - PAD.left - PAD.right) / Math.max(1, bars.length)
  const sy = (v: number) => Number((H - PAD.bottom - v / (yMax || 1) * (H - PAD.top - PAD.bottom)).toFixed(1))
  const every = Math.max(1, Math.ceil(bars.length / 12))
  const body = bars.map((b, i) => {
    const x = PAD.left + i * slot
    const bar = `<rect x="${(x + 1).toFixed(1)}" y="${sy(b.value)}" width="${Math.max(1, slot - 2).toFixed(1)}" height="${(H - PAD.bottom - sy(b.value)).toFixed(1)}" fill="${COLORS[0]}"><title>${escapeXml(`${b.label}: ${label(b.value)}`)}</title></rect>`
    const text = i % every === 0 ? `<text x="${(x + slot / 2).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${escapeXml(b.label)}</text>` : ''
    return bar + text
  }).join('')
  return frame(title, xLabel, yLabel, [], yTicks, () => 0, sy, body, '')
}
