/** How far a transfer has got. */
export interface TransferProgress {
  /** Files in the transfer, failed ones included. */
  filesTotal: number
  /** Files dealt with: sent, found unchanged, skipped or failed. */
  filesDone: number
  /** Bytes of all the files in the transfer. */
  bytesTotal: number
  /**
   * Bytes dealt with: those sent so far, plus the whole size of each file found unchanged, skipped or
   * failed, so that it ends equal to `bytesTotal`.
   */
  bytesDone: number
  /** Files not sent because the target exists with other content and overwrite is off. */
  skipped: number
  /** Files that failed. */
  failed: number
}

/** How a file ended, for the counts of a {@link TransferProgress}. */
export type FileEnd = 'sent' | 'unchanged' | 'skipped' | 'failed'

/** Reports at most this often while bytes flow. */
const DEFAULT_INTERVAL_MS = 100

/**
 * Counts a transfer and calls `onProgress` with a copy of the counts: once at `start`, then at most every
 * 100 ms while they change, and once more at `finish`. An `onProgress` that throws is not called again,
 * and its error is kept (see `callbackError`) so the transfer can stop and reject with it.
 */
export class ProgressTracker {
  readonly #onProgress: ((progress: TransferProgress) => void) | undefined
  readonly #state: TransferProgress = { filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, skipped: 0, failed: 0 }
  #lastReport = 0
  #timer: NodeJS.Timeout | undefined
  #error: { error: unknown } | undefined

  constructor(onProgress: ((progress: TransferProgress) => void) | undefined) {
    this.#onProgress = onProgress
  }

  /** The error `onProgress` threw, if it did. */
  callbackError(): { error: unknown } | undefined {
    return this.#error
  }

  /** A copy of the counts now. */
  snapshot(): TransferProgress {
    return { ...this.#state }
  }

  /** Sets the totals and reports once, before any byte moves. */
  start(totals: { filesTotal: number; bytesTotal: number }): void {
    this.#state.filesTotal = totals.filesTotal
    this.#state.bytesTotal = totals.bytesTotal
    this.#report()
  }

  /** Bytes that have just been sent. */
  addBytes(count: number): void {
    this.#state.bytesDone += count
    this.#changed()
  }

  /** One file is over; `unaccounted` is the part of its size not yet counted by {@link addBytes}. */
  fileDone(end: FileEnd, unaccounted: number): void {
    this.#state.filesDone += 1
    this.#state.bytesDone += unaccounted
    if (end === 'skipped') this.#state.skipped += 1
    if (end === 'failed') this.#state.failed += 1
    this.#changed()
  }

  /** Stops the timer and reports the final counts; then throws what `onProgress` threw, if it ever did. */
  finish(): TransferProgress {
    this.stop()
    this.#report()
    if (this.#error !== undefined) throw this.#error.error
    return this.snapshot()
  }

  /** Stops the timer without a last report (the transfer was aborted). */
  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #changed(): void {
    if (this.#onProgress === undefined || this.#timer !== undefined) return
    const wait = this.#lastReport + DEFAULT_INTERVAL_MS - Date.now()
    if (wait <= 0) {
      this.#report()
      return
    }
    // A report is still due when the counts stop changing, so the caller never shows stale numbers.
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#report()
    }, wait)
  }

  #report(): void {
    this.#lastReport = Date.now()
    if (this.#onProgress === undefined || this.#error !== undefined) return
    try {
      this.#onProgress(this.snapshot())
    } catch (error) {
      this.#error = { error }
    }
  }
}
