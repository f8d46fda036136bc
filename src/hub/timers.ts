// The real `setTimer` the realtime cores are given (tests give them test/helpers/fake-clock.ts).
export const realTimer = (fn: () => void, ms: number): { cancel (): void } => {
  const t = setTimeout(fn, ms)
  return { cancel: () => clearTimeout(t) }
}
