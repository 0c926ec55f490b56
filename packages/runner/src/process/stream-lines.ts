/**
 * Joins one stream's chunks into whole lines before they go into a log shared with another stream, so
 * stdout and stderr interleave by line, not mid-line (Python writes a print's text and its newline
 * apart). A partial line is passed on after `holdMs` without its end (a progress bar redrawn with
 * `\r`), or once it is larger than `maxHeldBytes`; `end` passes on the rest.
 */
export class StreamLines {
  readonly #emit: (bytes: Buffer) => void
  readonly #holdMs: number
  readonly #maxHeldBytes: number
  #held: Buffer = Buffer.alloc(0)
  #timer: NodeJS.Timeout | undefined

  constructor(options: { emit: (bytes: Buffer) => void; holdMs?: number; maxHeldBytes?: number }) {
    this.#emit = options.emit
    this.#holdMs = options.holdMs ?? 100
    this.#maxHeldBytes = options.maxHeldBytes ?? 64 * 1024
  }

  /** Takes a chunk; passes on every whole line (ended by `\n` or `\r`) at once. */
  push(chunk: Buffer): void {
    const bytes = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk])
    const end = Math.max(bytes.lastIndexOf(0x0a), bytes.lastIndexOf(0x0d))
    if (end >= 0) this.#emit(bytes.subarray(0, end + 1))
    this.#held = Buffer.from(bytes.subarray(end + 1))
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#held.length >= this.#maxHeldBytes) this.end()
    else if (this.#held.length > 0) this.#timer = setTimeout(() => this.end(), this.#holdMs)
  }

  /** Passes on what is held (the stream ended, or held it long enough). */
  end(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#held.length === 0) return
    const held = this.#held
    this.#held = Buffer.alloc(0)
    this.#emit(held)
  }
}
