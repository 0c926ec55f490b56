import { WharfError, printable } from '@wharf/contract'
import type { DeliveryLedger } from './ledger.js'

/** What an {@link Outage} needs: whose points it speaks of, where they wait, and how patient waits are. */
export interface OutageOptions {
  ledger: DeliveryLedger
  runId: string
  writerId: string
  spoolFile: string
  /** How long after the server was given up on the waits on spooled points reject; 0 at once. */
  waitTimeoutMs: number
  report: (error: WharfError) => void
}

/**
 * How waits ride out a server that stays unreachable. Once the send loop gives up on the server
 * (`park`), the points sit in the spool file and the loop keeps probing; waits on spooled points stay
 * pending until `waitTimeoutMs` has passed, then reject naming the file. When the server answers
 * (`unpark`) they go back to waiting for it. Waits on points not spooled are never touched here.
 */
export class Outage {
  readonly #options: OutageOptions
  /** Set while the spool cannot be sent (the server stayed unreachable): waits on spooled points reject. */
  #parked: WharfError | undefined
  /** Runs while parked: when it fires, waits on spooled points stop riding out the outage and reject. */
  #giveUpTimer: NodeJS.Timeout | undefined
  #waitsExpired = false
  /** waitTimeoutMs 0, or a plain close(): waits on spooled points reject as soon as they are parked. */
  #waitsGiveUpAtOnce: boolean
  /** Set by close({ waitForServer }): an outage no longer rejects waits; the close's timeout ends them. */
  #patient = false

  constructor(options: OutageOptions) {
    this.#options = options
    this.#waitsGiveUpAtOnce = options.waitTimeoutMs === 0
  }

  /** True from `park` until `unpark`. */
  get isParked(): boolean {
    return this.#parked !== undefined
  }

  /** The server stayed unreachable: tells onError where the points are, and starts the waits' countdown. */
  park(cause: WharfError): void {
    const { runId, writerId, spoolFile } = this.#options
    const error = new WharfError(
      cause.code,
      `could not send the metrics of run "${printable(runId)}": ${cause.message}. ` +
        `They are saved in ${spoolFile}; \`wharf sync\` sends them (and so does this logger once the server answers, or the next logger of this run)`,
      { cause, details: { spoolFile, runId, writerId } },
    )
    this.#parked = error
    this.#options.report(error)
    if (this.#patient) return
    if (this.#waitsGiveUpAtOnce) {
      this.#expireWaits()
      return
    }
    // Unref'd: a process with nobody waiting may end (its points are in the spool); a waiter holds it open.
    this.#giveUpTimer ??= setTimeout(() => this.#expireWaits(), this.#options.waitTimeoutMs).unref()
  }

  /** The server answered again: waits go back to waiting for it. */
  unpark(): void {
    this.#parked = undefined
    this.#waitsExpired = false
    clearTimeout(this.#giveUpTimer)
    this.#giveUpTimer = undefined
  }

  /** The error a new wait on `sequence` rejects with at once (spooled, and the waits gave up), else undefined. */
  refusalFor(sequence: number): WharfError | undefined {
    if (this.#parked === undefined || !this.#waitsExpired || this.#patient) return undefined
    return sequence <= this.#options.ledger.spooledThrough ? this.#parked : undefined
  }

  /** Batches were just spooled: if the waits gave up already, those on them reject now. */
  refuseSpooledWaits(): void {
    if (this.#parked !== undefined && this.#waitsExpired && !this.#patient) this.#options.ledger.rejectSpooled(this.#parked)
  }

  /** For close({ waitForServer }): from now on no outage rejects a wait, and the server gets a fresh chance. */
  waitForServer(): void {
    this.#patient = true
    this.unpark()
  }

  /** For a plain close(): waits on spooled points reject as soon as the server is given up on, now included. */
  giveUpAtOnce(): void {
    this.#waitsGiveUpAtOnce = true
    if (this.#parked !== undefined) this.#expireWaits()
  }

  /** The logger stopped: no countdown is left running. */
  stop(): void {
    clearTimeout(this.#giveUpTimer)
    this.#giveUpTimer = undefined
  }

  #expireWaits(): void {
    this.#giveUpTimer = undefined
    this.#waitsExpired = true
    if (this.#parked !== undefined && !this.#patient) this.#options.ledger.rejectSpooled(this.#parked)
  }
}
