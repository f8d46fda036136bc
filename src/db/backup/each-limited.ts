// `fn` over `items`, at most `concurrency` at a time; the first failure stops taking new items,
// and is thrown once those running have settled. Base backups and restores copy files with it.
export async function eachLimited<T> (items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | undefined
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T
      try {
        await fn(item)
      } catch (err) {
        failure ??= { err }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  if (failure !== undefined) throw failure.err
}
