import { createHash, type Hash } from 'node:crypto'
import { Transform, finished, type Readable, type TransformCallback } from 'node:stream'
import { WharfError, isWharfError } from '@wharf/contract'
import type { PutResult } from './driver.js'

/** Options for {@link createHashingStream}. */
export interface HashingStreamOptions {
  /** Declared size in bytes; a body of another length makes the stream fail (INVALID_ARGUMENT). */
  size?: number
  /** The SHA-256 (hex) the body must hash to; other bytes make the stream fail at its end (INVALID_ARGUMENT). */
  sha256?: string
}

/** A pass-through stream that counts the bytes flowing through it and computes SHA-256 and MD5. */
export class HashingStream extends Transform {
  readonly #declared: number | undefined
  readonly #expectedSha256: string | undefined
  readonly #sha256: Hash = createHash('sha256')
  readonly #md5: Hash = createHash('md5')
  #bytes = 0
  #result: PutResult | undefined

  constructor(options: HashingStreamOptions = {}) {
    super()
    const { size } = options
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      throw new WharfError('INVALID_ARGUMENT', `the declared size ${String(size)} is not a whole number of bytes ≥ 0`)
    }
    this.#declared = size
    this.#expectedSha256 = options.sha256
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes
  }

  /** Size and digests of everything that passed; throws INTERNAL if the stream has not ended yet. */
  result(): PutResult {
    if (!this.#result) throw new WharfError('INTERNAL', 'the digests were read before the stream ended')
    return this.#result
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length
    // Fail as soon as the body is too long, so a driver never writes more than was declared.
    if (this.#declared !== undefined && this.#bytes > this.#declared) {
      done(sizeMismatch(this.#declared, `more than ${this.#declared}`))
      return
    }
    this.#sha256.update(chunk)
    this.#md5.update(chunk)
    done(null, chunk)
  }

  override _flush(done: TransformCallback): void {
    if (this.#declared !== undefined && this.#bytes !== this.#declared) {
      done(sizeMismatch(this.#declared, String(this.#bytes)))
      return
    }
    const sha256 = this.#sha256.digest('hex')
    const expected = this.#expectedSha256
    if (expected !== undefined && sha256 !== expected) {
      done(
        new WharfError(
          'INVALID_ARGUMENT',
          `the uploaded bytes hash to ${sha256}, not ${expected}; nothing was stored. Upload the content under its own SHA-256`,
          { details: { expected, actual: sha256 } },
        ),
      )
      return
    }
    this.#result = { size: this.#bytes, sha256, md5: this.#md5.digest('base64') }
    done()
  }
}

/** A {@link HashingStream}; pipe a body through it, then read `result()` once it has ended. */
export function createHashingStream(options: HashingStreamOptions = {}): HashingStream {
  return new HashingStream(options)
}

function sizeMismatch(declared: number, received: string): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `the body has ${received} bytes but its declared size is ${declared}; nothing was stored. Send the declared number of bytes, or leave the size out`,
    { details: { declaredSize: declared } },
  )
}

/** A caller's body feeding a {@link HashingStream}; see {@link feedBody}. */
export interface BodyFeed {
  /** The body's own error, when it failed or closed early: report that error as it is. */
  readonly bodyError: Error | undefined
  /**
   * The failure that is the caller's own, to report as it is: the body's error, else the hasher's
   * refusal of a body of another size than declared; undefined when the put failed for another reason.
   */
  callerError(): Error | undefined
  /** Stops feeding (call once the put is over, whatever its outcome). */
  release(): void
}

/**
 * Rethrows, as it is, what a failed put must answer with unchanged: the caller's own failure (its body,
 * a body of another size than declared), its abort, or an error that is already a WharfError. Returns
 * for anything else, which the driver translates into its own terms.
 */
export function rethrowCallerFailure(feed: BodyFeed, error: unknown, signal: AbortSignal | undefined): void {
  const own = feed.callerError()
  if (own !== undefined) throw own
  if (signal?.aborted || isWharfError(error)) throw error
}

/**
 * Pipes `body` into `hasher` without ever destroying `body` (an HTTP request must stay open for the
 * error response). A body that errors or closes early destroys the hasher, so the put fails instead of
 * waiting forever; the listener stays on after `release`, so a late error of the body cannot crash the
 * process.
 */
export function feedBody(body: Readable, hasher: HashingStream): BodyFeed {
  let settled = false
  let bodyError: Error | undefined
  finished(body, { writable: false }, (error) => {
    if (!error || settled) return
    bodyError = error
    hasher.destroy(error)
  })
  body.pipe(hasher)
  return {
    get bodyError() {
      return bodyError
    },
    callerError() {
      return bodyError ?? (isWharfError(hasher.errored) ? hasher.errored : undefined)
    },
    release() {
      settled = true
      body.unpipe(hasher)
    },
  }
}
