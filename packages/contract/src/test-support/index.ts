import { isWharfError, type ErrorCode, type WharfError } from '../errors.js'

/**
 * The WharfError `promise` rejects with. Throws, failing the test, if it resolves, rejects with anything
 * else, or (given `code`) rejects with another code.
 */
export async function rejectionOf(promise: Promise<unknown>, code?: ErrorCode): Promise<WharfError> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  )
  if (outcome.resolved) throw new Error(`expected the call to fail${code === undefined ? '' : ` with ${code}`}, and it succeeded`)
  const { error } = outcome
  if (!isWharfError(error)) throw new Error(`expected a WharfError, got ${String(error)}`, { cause: error })
  if (code !== undefined && error.code !== code) {
    throw new Error(`expected ${code}, got ${error.code}: ${error.message}`, { cause: error })
  }
  return error
}

/** The code of the WharfError `promise` rejects with; throws, failing the test, if it resolves or rejects otherwise. */
export async function rejectionCodeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  return (await rejectionOf(promise)).code
}

/** The code a call failed with, or 'resolved'; anything that is not a WharfError is rethrown. */
export async function errorCodeOf(promise: Promise<unknown>): Promise<ErrorCode | 'resolved'> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    if (isWharfError(error)) return error.code
    throw error
  }
}

/** The code of the WharfError `call` throws at once: undefined if it returns, 'not a WharfError' for another throw. */
export function thrownCodeOf(call: () => unknown): ErrorCode | 'not a WharfError' | undefined {
  try {
    call()
  } catch (error) {
    return isWharfError(error) ? error.code : 'not a WharfError'
  }
  return undefined
}

/**
 * A seeded generator of numbers in [0, 1) (mulberry32): property tests and benches make the same data
 * from the same seed on every machine, so a failure names a seed that reproduces it.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
