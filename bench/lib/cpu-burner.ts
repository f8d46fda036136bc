// A control load for bench/console.ts: demands `BURN_CORES` (at most 1) of a core and does
// nothing else. It owes that share of the wall-clock time since it started and pays it in busy
// loops of at most 20 ms, checking every millisecond: when the machine makes it wait, it catches
// up, as a process with real work to do would.
import { performance } from 'node:perf_hooks'

const share = Math.min(1, Math.max(0, Number(process.env.BURN_CORES)))
const started = performance.now()
let busy = 0
function tick (): void {
  const owed = share * (performance.now() - started) - busy
  if (owed > 0) {
    const from = performance.now()
    while (performance.now() - from < Math.min(owed, 20));
    busy += performance.now() - from
  }
  setTimeout(tick, 1)
}
tick()
