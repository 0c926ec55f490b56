import type { WharfError } from '@wharf/contract'

/** Where a watched promise stands: not settled yet, resolved, or rejected with this error. */
export type Settlement = 'pending' | 'resolved' | WharfError

/**
 * Follows a promise without leaving a rejection unhandled; the function it returns tells how the
 * promise stands once the callbacks already due have run.
 */
export function watchSettlement(promise: Promise<unknown>): () => Promise<Settlement> {
  let outcome: Settlement = 'pending'
  promise.then(
    () => (outcome = 'resolved'),
    (error: unknown) => (outcome = error as WharfError),
  )
  return async () => {
    await new Promise((resolve) => setImmediate(resolve))
    return outcome
  }
}

/** Whether `promise` resolves (true) or rejects (false): for polling an action until it succeeds. */
export function succeeds(promise: Promise<unknown>): Promise<boolean> {
  return promise.then(
    () => true,
    () => false,
  )
}
