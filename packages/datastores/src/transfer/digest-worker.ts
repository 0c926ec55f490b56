import { Worker } from 'node:worker_threads'
import { WharfError } from '@wharf/contract'
import { DIGEST_ENCODING, type DigestAlgorithm } from './md5.js'

// Plain JavaScript, run with `eval`, so the worker needs no file of its own next to the compiled code.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const fd = openSync(workerData.path, 'r')
const hash = createHash(workerData.algorithm)
const buffer = Buffer.allocUnsafe(1024 * 1024)
let hashed = 0
parentPort.on('message', (message) => {
  while (hashed < message.upTo) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, message.upTo - hashed), hashed)
    if (read === 0) throw new Error('the file ended at byte ' + hashed + ' before byte ' + message.upTo)
    hash.update(buffer.subarray(0, read))
    hashed += read
  }
  if (message.digest) {
    closeSync(fd)
    parentPort.postMessage({ digest: hash.digest(workerData.encoding), hashed })
  }
})
`

/**
 * The digest (MD5 or sha256) of a file whose byte ranges are written out of order, computed by a worker
 * thread that reads the written bytes back (from the page cache) in order as soon as they are contiguous,
 * so hashing runs while the bytes stream and never holds up the main thread's network reads and writes.
 * Call {@link written} after each write, {@link digest} once all are done, and {@link close} in any case.
 */
export class DigestWorker {
  readonly #worker: Worker
  readonly #result: Promise<{ digest: string; hashed: number }>
  /** Bytes `[0, contiguous)` are written and handed to the worker. */
  #contiguous = 0
  /** Written spans past the contiguous part: start → end (exclusive). */
  readonly #spans = new Map<number, number>()

  constructor(path: string, algorithm: DigestAlgorithm) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, algorithm, encoding: DIGEST_ENCODING[algorithm] },
    })
    this.#result = new Promise((resolve, reject) => {
      this.#worker.once('message', resolve)
      this.#worker.once('error', reject)
      this.#worker.once('exit', (code) =>
        reject(new WharfError('INTERNAL', `the hashing worker stopped (exit code ${code}) before it gave the digest`)),
      )
    })
    // The outcome is read by digest(); a failure before then must not count as unhandled.
    this.#result.catch(() => undefined)
  }

  /** Records that bytes `[at, at + length)` are on disk. */
  written(at: number, length: number): void {
    this.#spans.set(at, at + length)
    const before = this.#contiguous
    for (let end = this.#spans.get(this.#contiguous); end !== undefined; end = this.#spans.get(this.#contiguous)) {
      this.#spans.delete(this.#contiguous)
      this.#contiguous = end
    }
    if (this.#contiguous > before) this.#worker.postMessage({ upTo: this.#contiguous })
  }

  /** The digest of bytes `[0, size)`; INTERNAL if some were never written. */
  async digest(size: number): Promise<string> {
    if (this.#contiguous !== size || this.#spans.size > 0) {
      throw new WharfError(
        'INTERNAL',
        `the download wrote ${this.#contiguous} of ${size} bytes in order; a piece was not written in full`,
      )
    }
    this.#worker.postMessage({ upTo: size, digest: true })
    const { digest, hashed } = await this.#result
    if (hashed !== size) throw new WharfError('INTERNAL', `the hashing worker hashed ${hashed} of ${size} bytes`)
    return digest
  }

  /** Stops the worker (at once if it is still hashing). */
  async close(): Promise<void> {
    await this.#worker.terminate()
  }
}
