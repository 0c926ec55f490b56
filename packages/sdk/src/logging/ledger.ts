import { WharfError } from '@wharf/contract'

/** Longer than any timer can be; the interval only holds the event loop open while someone waits. */
const KEEP_ALIVE_MS = 2 ** 31 - 1

/** @internal How a {@link PendingLog} asks its logger for the wait on a batch. */
export const waitForSequence = Symbol('waitForSequence')

/** @internal What a {@link PendingLog} waits through: its logger, which seals the batch first. */
export interface SequenceWaits {
  [waitForSequence](sequence: number): Promise<void>
}

/**
 * The handle `log()` returns: `await` it (or its `wait()`) to know that the point and every point the
 * same logger took before it are durably stored. Nothing is waited for unless asked, so an ignored
 * handle never turns into an unhandled rejection.
 */
export class PendingLog implements PromiseLike<void> {
  readonly #logger: SequenceWaits
  readonly #sequence: number

  /** Made by {@link MetricLogger.log}; `sequence` is the batch the point went into. */
  constructor(logger: SequenceWaits, sequence: number) {
    this.#logger = logger
    this.#sequence = sequence
  }

  /**
   * Resolves once this point and every earlier point of its logger are stored on the server. Rejects
   * with a WharfError when one of them cannot be: refused by the server, or saved to the spool file
   * because the server stayed unreachable (the message names the file; `wharf sync` sends it).
   */
  wait(): Promise<void> {
    return this.#logger[waitForSequence](this.#sequence)
  }

  then<TResult1 = void, TResult2 = never>(
    onfulfilled?: ((value: void) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.wait().then(onfulfilled, onrejected)
  }
}

interface Waiter {
  promise: Promise<void>
  resolve: () => void
  reject: (error: WharfError) => void
}

interface LostBatch {
  sequence: number
  error: WharfError
}

/**
 * What became of the batches of one logger, by sequence (batches are made and stored in order): stored
 * through one sequence, written to the spool file through another, lost from a third on; and who waits
 * for which. A wait on a sequence resolves once every batch up to it is stored and rejects as soon as
 * one of them is lost, with that batch's error. While anyone waits the process is held open.
 */
export class DeliveryLedger {
  /** Every sequence up to this one is stored (or lost, see #firstLost). */
  #storedThrough = -1
  #spooledThrough = -1
  #firstLost: LostBatch | undefined
  #lastLost: LostBatch | undefined
  readonly #waiters = new Map<number, Waiter>()
  /**
   * Held (ref'd) while anyone waits for points: retries sleep on unref'd timers, and without this a
   * script awaiting `.wait()` during an outage would see the event loop run dry, and the exit path
   * (beforeExit) would start while the script is still running.
   */
  #keepAlive: NodeJS.Timeout | undefined

  /** Every batch up to this sequence is stored or lost; -1 before the first. */
  get storedThrough(): number {
    return this.#storedThrough
  }

  /** The highest sequence written to the spool file; -1 before the first. */
  get spooledThrough(): number {
    return this.#spooledThrough
  }

  /** The settled wait on `sequence` when its fate is known already (stored, or lost), else undefined. */
  known(sequence: number): Promise<void> | undefined {
    const lost = this.lostError(sequence)
    if (lost !== undefined) return Promise.reject(lost)
    if (sequence <= this.#storedThrough) return Promise.resolve()
    return undefined
  }

  /** The wait on `sequence` (one promise per sequence, however often asked); holds the process open until it settles. */
  wait(sequence: number): Promise<void> {
    const known = this.known(sequence)
    if (known !== undefined) return known
    let waiter = this.#waiters.get(sequence)
    if (waiter === undefined) {
      let resolve!: () => void
      let reject!: (error: WharfError) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      waiter = { promise, resolve, reject }
      this.#waiters.set(sequence, waiter)
      this.#keepAlive ??= setInterval(() => undefined, KEEP_ALIVE_MS)
      const release = (): void => this.#releaseKeepAlive()
      void promise.then(release, release)
    }
    return waiter.promise
  }

  /** Every batch up to `sequence` is stored: waits up to it resolve (or reject, for one behind a lost batch). */
  settleStored(sequence: number): void {
    if (sequence <= this.#storedThrough) return
    this.#storedThrough = sequence
    for (const [waited, waiter] of this.#waiters) {
      if (waited > sequence) continue
      this.#waiters.delete(waited)
      const lost = this.lostError(waited)
      if (lost === undefined) waiter.resolve()
      else waiter.reject(lost)
    }
  }

  /** Batch `sequence` can never be stored: waits on it and on every later batch reject. */
  markLost(sequence: number, error: WharfError): void {
    const lost = { sequence, error }
    this.#firstLost ??= lost
    this.#lastLost = lost
    for (const [waited, waiter] of this.#waiters) {
      if (waited < sequence) continue
      this.#waiters.delete(waited)
      waiter.reject(this.lostError(waited) ?? error)
    }
  }

  /** Batch `sequence` is in the spool file. */
  markSpooled(sequence: number): void {
    this.#spooledThrough = Math.max(this.#spooledThrough, sequence)
  }

  /** Why a wait on `sequence` fails: its own batch's error, or one naming the first lost batch before it; undefined if none is lost. */
  lostError(sequence: number): WharfError | undefined {
    const first = this.#firstLost
    if (first === undefined || first.sequence > sequence) return undefined
    if (this.#lastLost?.sequence === sequence) return this.#lastLost.error
    if (first.sequence === sequence) return first.error
    return new WharfError(
      first.error.code,
      `an earlier batch of this logger (sequence ${first.sequence}) could not be stored, so not every point up to this one is: ${first.error.message}`,
      { cause: first.error, details: { sequence: first.sequence } },
    )
  }

  /** Rejects the waits on batches that are in the spool file and not yet stored; later ones keep waiting. */
  rejectSpooled(error: WharfError): void {
    for (const [waited, waiter] of this.#waiters) {
      if (waited <= this.#storedThrough || waited > this.#spooledThrough) continue
      this.#waiters.delete(waited)
      waiter.reject(error)
    }
  }

  /** Rejects every wait (its logger stopped) and lets the process go. */
  rejectAll(error: WharfError): void {
    for (const waiter of this.#waiters.values()) waiter.reject(error)
    this.#waiters.clear()
    this.#releaseKeepAlive()
  }

  #releaseKeepAlive(): void {
    if (this.#waiters.size > 0 || this.#keepAlive === undefined) return
    clearInterval(this.#keepAlive)
    this.#keepAlive = undefined
  }
}
