// Polls a condition the test cannot await as an event (a row in the database, a process's
// state), with a deadline: the one helper for that, so every such wait has a timeout.
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | null | false>, ms = 5_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
