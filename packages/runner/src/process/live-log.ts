import { closeSync, openSync, read, writeSync } from 'node:fs'
import { maskSecrets } from './mask.js'

/** Sends one chunk of a live log at a byte offset; a repeated offset is harmless (the server ignores it). */
export type AppendChunk = (chunk: { offset: number; bytes: Buffer }) => Promise<void>

/** Options for {@link LiveLog}. */
export interface LiveLogOptions {
  append: AppendChunk
  /**
   * The local copy of everything written (what is uploaded as the log artifact at the end), created
   * afresh; appends are read back from it, so a long outage costs disk, not memory.
   */
  localFile: string
  /** Texts never sent nor kept: each occurrence becomes `***` (the run token). */
  secrets?: readonly string[]
  /** Longest wait before buffered bytes are sent. Default 250 ms. */
  intervalMs?: number
  /** Bytes that are sent at once without waiting for the interval. Default 64 KiB. */
  batchBytes?: number
  /** The most bytes one append may carry (the server's `logAppendBytes`). */
  maxAppendBytes: number
  /** Waits between tries of a failed append; the last is repeated. Default 0.2, 0.5, 1, 2 s. */
  retryDelaysMs?: readonly number[]
  /** Once closing, how long a server that went away is waited for before the live copy gives up. Default 2 minutes. */
  closeWaitMs?: number
  /** Whether a failed append is worth another try; default every failure. */
  isTransient?: (error: unknown) => boolean
  /** Hears an append given up on (not transient): the log goes on locally, the live copy stops. */
  onGiveUp?: (error: unknown) => void
}

/**
 * A live log of a run: bytes written to it are masked, kept in a local file and appended to the server
 * in order, a batch every `intervalMs` or `batchBytes`, at increasing offsets; a failed append is
 * retried at the same offset so nothing is lost or doubled. `close` sends the rest.
 */
export class LiveLog {
  readonly #options: LiveLogOptions
  readonly #secrets: Buffer[]
  /** The local copy, written synchronously (the page cache takes it) and read back to send. */
  #fd: number | undefined
  /** Written bytes not yet masked for good: they may end with the start of a secret. */
  #held: Buffer = Buffer.alloc(0)
  /** Masked bytes in the local copy. */
  #written = 0
  /** Bytes the server has (the next append's offset). */
  #sent = 0
  #timer: NodeJS.Timeout | undefined
  #sending: Promise<void> | undefined
  #gaveUp = false
  /** When close() began; appends failing after `closeWaitMs` from then are given up. */
  #closingAt: number | undefined
  #closed = false

  constructor(options: LiveLogOptions) {
    this.#options = options
    this.#secrets = (options.secrets ?? []).filter((secret) => secret.length > 0).map((secret) => Buffer.from(secret))
    this.#fd = openSync(options.localFile, 'w+')
  }

  /** Bytes the server acknowledged so far. */
  get sentBytes(): number {
    return this.#sent
  }

  /** Adds bytes (or UTF-8 text) to the log; never throws, never waits. */
  write(data: Buffer | string): void {
    if (this.#closed) return
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.#held = this.#held.length === 0 ? bytes : Buffer.concat([this.#held, bytes])
    this.#release(false)
    if (this.#written - this.#sent >= (this.#options.batchBytes ?? 64 * 1024)) this.#kick()
    else this.#timer ??= setTimeout(() => this.#kick(), this.#options.intervalMs ?? 250)
  }

  /** Sends everything written so far; resolves once the server has it (or the live copy gave up). */
  async flush(): Promise<void> {
    this.#release(true)
    this.#kick()
    while (this.#sending) await this.#sending
  }

  /** Sends the rest and closes the local copy; writes after it are dropped. */
  async close(): Promise<void> {
    this.#closingAt = Date.now()
    await this.flush()
    this.#closed = true
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }

  /** Masks what is held and appends it to the local copy, keeping back a tail that may begin a secret unless `all`. */
  #release(all: boolean): void {
    const text = maskSecrets(this.#held, this.#secrets)
    let keep = 0
    if (!all) for (const secret of this.#secrets) keep = Math.max(keep, partialSuffix(text, secret))
    const ready = text.subarray(0, text.length - keep)
    this.#held = Buffer.from(text.subarray(text.length - keep))
    if (ready.length === 0 || this.#fd === undefined) return
    try {
      for (let done = 0; done < ready.length;) done += writeSync(this.#fd, ready, done)
      this.#written += ready.length
    } catch (error) {
      // The disk is full or gone: what cannot be kept cannot be sent either; the run goes on.
      this.#giveUp(error)
    }
  }

  #kick(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#sending) return
    this.#sending = this.#drain().finally(() => {
      this.#sending = undefined
      if (this.#written > this.#sent && !this.#gaveUp) this.#kick()
    })
  }

  async #drain(): Promise<void> {
    while (this.#written > this.#sent && !this.#gaveUp && this.#fd !== undefined) {
      const length = Math.min(this.#written - this.#sent, this.#options.maxAppendBytes)
      const bytes = Buffer.allocUnsafe(length)
      const fd = this.#fd
      const got = await new Promise<number>((resolve, reject) =>
        read(fd, bytes, 0, length, this.#sent, (error, count) => (error ? reject(error) : resolve(count))),
      ).catch((error: unknown) => {
        this.#giveUp(error)
        return 0
      })
      if (got === 0) return
      await this.#send(bytes.subarray(0, got))
    }
  }

  async #send(bytes: Buffer): Promise<void> {
    const delays = this.#options.retryDelaysMs ?? [200, 500, 1000, 2000]
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#options.append({ offset: this.#sent, bytes })
        this.#sent += bytes.length
        return
      } catch (error) {
        // Closing, the run is ending: a server away for longer than closeWaitMs is not waited for any longer.
        const waitedOut = this.#closingAt !== undefined && Date.now() - this.#closingAt > (this.#options.closeWaitMs ?? 120_000)
        if (!(this.#options.isTransient?.(error) ?? true) || waitedOut) {
          this.#giveUp(error)
          return
        }
        const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1000
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }

  #giveUp(error: unknown): void {
    if (this.#gaveUp) return
    this.#gaveUp = true
    this.#options.onGiveUp?.(error)
  }
}

/** The length of the longest end of `text` that is the start of `secret` (shorter than it). */
function partialSuffix(text: Buffer, secret: Buffer): number {
  for (let length = Math.min(secret.length - 1, text.length); length > 0; length--) {
    if (text.subarray(text.length - length).equals(secret.subarray(0, length))) return length
  }
  return 0
}
