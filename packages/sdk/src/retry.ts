import { WharfError, isWharfError } from '@wharf/contract'

/** How patiently to retry a request that failed for a reason that may pass (server down, 5xx). */
export interface RetryOptions {
  /** Tries in all, the first included. Default 5. */
  attempts?: number
  /** Delay before the first retry; each later one doubles, with jitter. Default 100 ms. */
  initialDelayMs?: number
  /** Upper bound of one delay. Default 5 s. */
  maxDelayMs?: number
}

/** A {@link RetryOptions} with every field set and checked. */
export type RetryPolicy = Readonly<Required<RetryOptions>>

/** Returns the retry policy for `options`; throws INVALID_ARGUMENT for a count or delay out of range. */
export function resolveRetryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = {
    attempts: options.attempts ?? 5,
    initialDelayMs: options.initialDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 5_000,
  }
  if (!Number.isSafeInteger(policy.attempts) || policy.attempts < 1) {
    throw new WharfError('INVALID_ARGUMENT', `retry.attempts must be a whole number of at least 1, got ${policy.attempts}`)
  }
  for (const key of ['initialDelayMs', 'maxDelayMs'] as const) {
    if (!Number.isFinite(policy[key]) || policy[key] < 0) {
      throw new WharfError('INVALID_ARGUMENT', `retry.${key} must be a number of milliseconds from 0, got ${policy[key]}`)
    }
  }
  return Object.freeze(policy)
}

/** True for failures worth retrying: the server unreachable or too slow, or any 5xx answer. */
export function isRetryable(error: WharfError): boolean {
  return error.code === 'SERVER_UNREACHABLE' || error.status >= 500
}

/**
 * The failure of a request as a WharfError. Anything else the client lets through is a broken
 * transport (an answer cut off mid-body by a dying server), so it becomes SERVER_UNREACHABLE: retrying
 * an idempotent batch is always safe.
 */
export function toRequestError(error: unknown, serverUrl: string): WharfError {
  if (isWharfError(error)) return error
  const message = error instanceof Error ? error.message : String(error)
  return new WharfError('SERVER_UNREACHABLE', `the answer of the Wharf server at ${serverUrl} was cut off (${message})`, {
    cause: error,
  })
}

/** The delay before retry number `failures` (1 for the first): exponential, capped, with jitter. */
export function backoffDelay(policy: RetryPolicy, failures: number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(failures - 1, 30))
  // Half fixed, half random: loggers that lost the server together do not come back in lockstep.
  return base / 2 + (Math.random() * base) / 2
}

/** Resolves after `ms` without holding the process open (the timer is unref'd). */
export function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref()
  })
}

function sleepHolding(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Runs `request` until it succeeds, retrying retryable failures with backoff up to the policy's
 * attempts, or until `shouldStop` says the result no longer matters. Throws the last failure as a
 * WharfError. The waits between tries hold the process open only with `holdProcess` (for a request
 * the program cannot go on without, such as creating its run).
 */
export async function retryRequest<T>(
  request: () => Promise<T>,
  options: { policy: RetryPolicy; serverUrl: string; shouldStop?: () => boolean; holdProcess?: boolean },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request()
    } catch (cause) {
      const error = toRequestError(cause, options.serverUrl)
      if (!isRetryable(error) || attempt >= options.policy.attempts || options.shouldStop?.() === true) throw error
      const delay = backoffDelay(options.policy, attempt)
      await (options.holdProcess === true ? sleepHolding(delay) : sleepUnref(delay))
      if (options.shouldStop?.() === true) throw error
    }
  }
}
