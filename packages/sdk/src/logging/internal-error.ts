import { WharfError, isWharfError } from '@wharf/contract'

/** `error` itself when it is a WharfError, else an INTERNAL one saying `what` failed, with `error` as its cause. */
export function toInternal(error: unknown, what: string): WharfError {
  if (isWharfError(error)) return error
  return new WharfError('INTERNAL', `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
}
