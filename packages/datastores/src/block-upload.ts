import type { Readable } from 'node:stream'

// How the azure_blob driver stages blocks and the azure_file driver uploads ranges: the body cut into
// blocks of one size, each sent while the next is read, a few at a time, the first failure stopping all.

/** One block of a body: its bytes, its place among the blocks (0, 1, …) and its first byte's offset. */
export interface Block {
  data: Buffer
  index: number
  offset: number
}

/** Options for {@link BlockUpload}. */
export interface BlockUploadOptions {
  /** Bytes per block; every block but the last has exactly this many. */
  blockSize: number
  /** How many blocks are sent at the same time. */
  concurrency: number
  /** Awaited in order before each block is sent (a check, or growing the file); what it throws stops the upload. */
  prepare?: (block: Block) => Promise<void> | void
  /** Sends one block; up to `concurrency` run at once. */
  send: (block: Block) => Promise<unknown>
}

/**
 * Reads a body (a hashing stream) and sends it in blocks, at most `concurrency` at a time. A failed block
 * destroys the body with its error, so reading stops at once; {@link finish} throws it.
 */
export class BlockUpload {
  readonly #body: Readable
  readonly #options: BlockUploadOptions
  readonly #sending = new Set<Promise<void>>()
  #count = 0
  #offset = 0
  #failure: Error | undefined

  constructor(body: Readable, options: BlockUploadOptions) {
    this.#body = body
    this.#options = options
  }

  /** How many blocks have been started. */
  get count(): number {
    return this.#count
  }

  /** The first block's failure, if one failed. */
  get failure(): Error | undefined {
    return this.#failure
  }

  /** Reads the whole body, sending every full block; resolves with the bytes after the last full block, not sent. */
  async sendFullBlocks(): Promise<Buffer> {
    const { blockSize } = this.#options
    let pending: Buffer[] = []
    let pendingBytes = 0
    for await (const chunk of this.#body as AsyncIterable<Buffer>) {
      let rest = chunk
      while (pendingBytes + rest.length >= blockSize) {
        const take = blockSize - pendingBytes
        pending.push(rest.subarray(0, take))
        rest = rest.subarray(take)
        await this.#send(Buffer.concat(pending))
        pending = []
        pendingBytes = 0
      }
      if (rest.length > 0) {
        pending.push(rest)
        pendingBytes += rest.length
      }
    }
    return Buffer.concat(pending)
  }

  /** Sends `last` as one more block when it has bytes, then waits for every block; throws the first failure. */
  async finish(last?: Buffer): Promise<void> {
    if (last !== undefined && last.length > 0) await this.#send(last)
    await Promise.all(this.#sending)
    if (this.#failure !== undefined) throw this.#failure
  }

  /** Waits for the blocks still being sent, whatever becomes of them (after a failure, before cleaning up). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#sending)
  }

  async #send(data: Buffer): Promise<void> {
    const block = { data, index: this.#count, offset: this.#offset }
    await this.#options.prepare?.(block)
    this.#count++
    this.#offset += data.length
    const task = this.#options
      .send(block)
      .then(() => undefined)
      .catch((error: unknown) => {
        this.#failure ??= error instanceof Error ? error : new Error(String(error))
        this.#body.destroy(this.#failure)
      })
      .finally(() => this.#sending.delete(task))
    this.#sending.add(task)
    while (this.#sending.size >= this.#options.concurrency) await Promise.race(this.#sending)
  }
}
