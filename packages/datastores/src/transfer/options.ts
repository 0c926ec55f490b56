import { WharfError } from '@wharf/contract'
import type { TransferProgress } from './progress.js'

/** Options every transfer takes. */
export interface TransferOptions {
  /** Replace targets that exist with other content (default false: such files are skipped and listed). */
  overwrite?: boolean
  /** Files transferred at the same time (default 32). */
  concurrency?: number
  /**
   * Called with the counts once the files are known (before any byte moves), then as bytes flow (at most
   * every 100 ms), and once at the end with the final counts. If it throws, the transfer stops taking new
   * files and rejects with that error.
   */
  onProgress?: (progress: TransferProgress) => void
  /** Aborting rejects the transfer with the signal's reason once the running files have stopped. */
  signal?: AbortSignal
}

/** Files at once when the caller does not say; measured against Azurite (see measure.ts). */
export const DEFAULT_CONCURRENCY = 32

/** A whole number ≥ 1, or INVALID_ARGUMENT naming the option. */
export function positiveWhole(value: number | undefined, options: { name: string; fallback: number }): number {
  const number = value ?? options.fallback
  if (!(Number.isSafeInteger(number) && number >= 1)) {
    throw new WharfError('INVALID_ARGUMENT', `the transfer option "${options.name}" is ${String(value)}; give a whole number ≥ 1`)
  }
  return number
}
