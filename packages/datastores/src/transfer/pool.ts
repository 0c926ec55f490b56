/** Options for {@link runPool}. */
export interface PoolOptions {
  /** Items worked on at the same time. */
  concurrency: number
  signal?: AbortSignal | undefined
  /** Checked before each item is taken; returning true takes no more. */
  isStopped?: () => boolean
}

/**
 * Calls `work` for every item, `concurrency` at a time, in order of the items. When a call throws or the
 * signal aborts, no further item is taken; once the running calls have settled, it rejects with the first
 * error thrown (else the abort reason). Never leaves a call running after it settles.
 */
export async function runPool<T>(items: readonly T[], options: PoolOptions, work: (item: T) => Promise<void>): Promise<void> {
  const { signal, isStopped } = options
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal?.aborted && !(isStopped?.() ?? false)) {
      const index = next++
      if (index >= items.length) return
      try {
        await work(items[index] as T)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency, items.length))
  await Promise.all(Array.from({ length: workers }, worker))
  if (failure !== undefined) throw failure.error
  signal?.throwIfAborted()
}

/**
 * Runs `work`; when it fails after `signal` aborted, rejects with the signal's reason instead of whatever
 * a stream or a driver made of the abort, so a caller always gets the reason it aborted with.
 */
export async function withAbortReason<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    signal?.throwIfAborted()
    throw error
  }
}
