import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'

/** Sends one chunk of a live log at a byte offset; a repeated offset is harmless (the server ignores it). */
export type AppendChunk = (chunk: { offset: number; bytes: Buffer }) => Promise<void>

/** Options for {@link LiveLog}. */
export interface LiveLogOptions {
  append: AppendChunk
  /** A local copy of everything written (what is uploaded as the log artifact at the end). */
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
  /** Whether a failed append is worth another try; default every failure. */
  isTransient?: (error: unknown) => boolean
  /** Hears an append given up on (not transient): the log goes on locally, the live copy stops. */
  onGiveUp?: (error: unknown) => void
}

const MASK = Buffer.from('***')

/**
 * A live log of a run: bytes written to it are masked, kept in a local file and appended to the server
 * in order, a batch every `intervalMs` or `batchBytes`, at increasing offsets; a failed append is
 * retried at the same offset so nothing is lost or doubled. `close` sends the rest.
 */
export class LiveLog {
  readonly #options: LiveLogOptions
  readonly #secrets: Buffer[]
  readonly #file: WriteStream
  /** Written bytes not yet masked for good: they may end with the start of a secret. */
  #held: Buffer = Buffer.alloc(0)
  /** Masked bytes waiting to be sent. */
  #pending: Buffer[] = []
  #pendingBytes = 0
  /** Bytes the server has (the next append's offset). */
  #sent = 0
  #timer: NodeJS.Timeout | undefined
  #sending: Promise<void> | undefined
  #gaveUp = false
  #closing = false
  #closed = false

  constructor(options: LiveLogOptions) {
    this.#options = options
    this.#secrets = (options.secrets ?? []).filter((secret) => secret.length > 0).map((secret) => Buffer.from(secret))
    this.#file = createWriteStream(options.localFile, { flags: 'a' })
    this.#file.on('error', () => undefined) // the live copy still goes on; close() reports nothing
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
    if (this.#pendingBytes >= (this.#options.batchBytes ?? 64 * 1024)) this.#kick()
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
    this.#closing = true
    await this.flush()
    this.#closed = true
    this.#file.end()
    if (!this.#file.closed) await once(this.#file, 'close').catch(() => undefined)
  }

  /** Masks what is held and moves it to pending, keeping back a tail that may begin a secret unless `all`. */
  #release(all: boolean): void {
    let text = this.#held
    for (const secret of this.#secrets) text = replaceAll(text, secret)
    let keep = 0
    if (!all) for (const secret of this.#secrets) keep = Math.max(keep, partialSuffix(text, secret))
    const ready = text.subarray(0, text.length - keep)
    this.#held = Buffer.from(text.subarray(text.length - keep))
    if (ready.length === 0) return
    this.#file.write(ready)
    this.#pending.push(ready)
    this.#pendingBytes += ready.length
  }

  #kick(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#sending) return
    this.#sending = this.#drain().finally(() => {
      this.#sending = undefined
      if (this.#pendingBytes > 0 && !this.#gaveUp) this.#kick()
    })
  }

  async #drain(): Promise<void> {
    while (this.#pendingBytes > 0 && !this.#gaveUp) {
      const all = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending)
      const bytes = all.subarray(0, this.#options.maxAppendBytes)
      const rest = all.subarray(bytes.length)
      this.#pending = rest.length > 0 ? [rest] : []
      this.#pendingBytes = rest.length
      await this.#send(bytes)
    }
    if (this.#gaveUp) {
      this.#pending = []
      this.#pendingBytes = 0
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
        // Closing, the run is ending: a server still away after the last delay is not waited for any longer.
        if (!(this.#options.isTransient?.(error) ?? true) || (this.#closing && attempt >= delays.length)) {
          this.#gaveUp = true
          this.#options.onGiveUp?.(error)
          return
        }
        const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1000
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }
}

function replaceAll(text: Buffer, secret: Buffer): Buffer {
  let at = text.indexOf(secret)
  if (at < 0) return text
  const parts: Buffer[] = []
  let from = 0
  while (at >= 0) {
    parts.push(text.subarray(from, at), MASK)
    from = at + secret.length
    at = text.indexOf(secret, from)
  }
  parts.push(text.subarray(from))
  return Buffer.concat(parts)
}

/** The length of the longest end of `text` that is the start of `secret` (shorter than it). */
function partialSuffix(text: Buffer, secret: Buffer): number {
  for (let length = Math.min(secret.length - 1, text.length); length > 0; length--) {
    if (text.subarray(text.length - length).equals(secret.subarray(0, length))) return length
  }
  return 0
}
