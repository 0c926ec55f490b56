import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { WharfError, isWharfError, printable } from '@wharf/contract'
import type { GetOptions } from '../driver.js'
import { DigestWorker } from './digest-worker.js'
import { localErrorOf, remoteErrorOf } from './failure.js'
import { DIGEST_ENCODING, type DigestAlgorithm } from './md5.js'
import { runPool } from './pool.js'

/** Opens a stored file's bytes, or a byte range of them, as a stream. */
export type OpenRemote = (options: GetOptions) => Promise<Readable>

/** How a large file is downloaded as byte ranges. */
export interface PieceOptions {
  /** Files of at least this many bytes are downloaded as ranges (default 32 MiB). */
  from?: number
  /** Bytes per range (default 16 MiB). */
  size?: number
  /** Ranges of one file downloaded at the same time (default 8). */
  atOnce?: number
}

/**
 * Piece settings measured against Azurite (see measure.ts): 16 MiB ranges, 8 at a time, from 32 MiB. A
 * 1 GiB file went from about 130 MiB/s (8 MiB × 4) to 200–330 MiB/s.
 */
export const DEFAULT_PIECES: Readonly<Required<PieceOptions>> = Object.freeze({
  from: 32 * 1024 * 1024,
  size: 16 * 1024 * 1024,
  atOnce: 8,
})

/** Bytes collected from a response before one positional write. */
const WRITE_SIZE = 256 * 1024

/** Options for {@link fetchToFile}. */
export interface FetchToFileOptions {
  /** Reads the stored file (or a range of it). */
  open: OpenRemote
  /** The file's name in messages: a datastore key or an artifact path. */
  key: string
  /** The size the listing gave; any other number of bytes fails the fetch. */
  size: number
  /** An empty file opened for writing. */
  handle: FileHandle
  /** The file's path (a worker reads it back to hash a file downloaded as ranges). */
  tempPath: string
  /** The path the file ends up at, to name in errors of the local disk. */
  localPath: string
  /** Compute this digest of the content, in order, as contiguous bytes arrive; none when absent. */
  digest?: DigestAlgorithm | undefined
  pieces: Readonly<Required<PieceOptions>>
  onBytes: (count: number) => void
  signal?: AbortSignal | undefined
}

/** One byte range of a file. */
export interface Piece {
  start: number
  /** Exclusive. */
  end: number
  ranged: boolean
}

/**
 * Writes the stored file into `handle`, as one stream or (for a large file) as byte ranges downloaded
 * several at once and written at their offsets. Resolves with the digest when asked for one: hashed as
 * the bytes pass for one stream, and by a worker thread reading the file back in order for ranges. Throws
 * DATASTORE_UNAVAILABLE when the file turns out to have another size than listed (it changed since);
 * the first failing range stops the others.
 */
export async function fetchToFile(options: FetchToFileOptions): Promise<string | undefined> {
  const { size, pieces } = options
  if (size < pieces.from) {
    const hasher = options.digest ? new LiveDigest(options.digest) : undefined
    await fetchPiece(
      { ...options, onWritten: (at, chunks) => hasher?.written(at, chunks) },
      { start: 0, end: size, ranged: false },
    )
    return hasher?.digest(size)
  }
  const plan = planPieces(size, pieces, { staggered: options.digest !== undefined })
  const hasher = options.digest ? new DigestWorker(options.tempPath, options.digest) : undefined
  const stopOthers = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, stopOthers.signal]) : stopOthers.signal
  // Every piece in flight listens to it (its request and its body): not a leak.
  setMaxListeners(0, signal)
  try {
    await runPool(plan, { concurrency: pieces.atOnce, signal }, async (piece) => {
      try {
        await fetchPiece({ ...options, signal, onWritten: (at, _chunks, length) => hasher?.written(at, length) }, piece)
      } catch (error) {
        stopOthers.abort()
        throw error
      }
    })
    return await hasher?.digest(size)
  } finally {
    await hasher?.close()
  }
}

/** Ranges start on these boundaries. */
const PIECE_ALIGN = 256 * 1024

/**
 * The byte ranges of a file of `size` bytes. With `staggered` (a digest is computed in order) the first
 * `atOnce` ranges grow from 1/atOnce of a piece to a whole one. Ranges downloaded side by side share the
 * bandwidth, so equal ones finish together, wave after wave, and the bytes become contiguous a whole
 * wave (8 × 16 MiB) at a time: the last wave is then hashed after the last byte arrived (0.2 s at MD5's
 * ~600 MiB/s on one core). Growing ones finish one after another, as do the ranges that take their
 * places, so the bytes become contiguous at an even pace and only about one range is left to hash.
 */
export function planPieces(size: number, pieces: Readonly<Required<PieceOptions>>, options: { staggered: boolean }): Piece[] {
  const plan: Piece[] = []
  for (let start = 0; start < size;) {
    const wave = plan.length
    const length =
      options.staggered && wave < pieces.atOnce
        ? Math.max(PIECE_ALIGN, Math.ceil((pieces.size * (wave + 1)) / pieces.atOnce / PIECE_ALIGN) * PIECE_ALIGN)
        : pieces.size
    const end = Math.min(start + length, size)
    plan.push({ start, end, ranged: true })
    start = end
  }
  return plan
}

async function fetchPiece(
  options: FetchToFileOptions & { onWritten: (at: number, chunks: Uint8Array[], length: number) => void },
  piece: Piece,
): Promise<void> {
  const { key, handle, signal, size, localPath } = options
  const get = signal ? { signal } : {}
  let body
  try {
    body = await options.open(piece.ranged ? { ...get, range: { start: piece.start, end: piece.end - 1 } } : get)
  } catch (error) {
    if (isWharfError(error, 'RANGE_NOT_SATISFIABLE')) throw changed({ key, size, cause: error, seen: 'fewer bytes' })
    if (signal?.aborted) throw error
    throw remoteErrorOf(error, { key, action: 'read' })
  }
  let position = piece.start
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return
    const data = pending
    const length = pendingBytes
    pending = []
    pendingBytes = 0
    try {
      await writeAllAt(handle, data, { length, position })
    } catch (error) {
      throw localErrorOf(error, { localPath, action: 'write' })
    }
    options.onWritten(position, data, length)
    position += length
    options.onBytes(length)
  }
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (position + pendingBytes + chunk.length > piece.end) throw changed({ key, size, seen: 'more bytes' })
      pending.push(chunk)
      pendingBytes += chunk.length
      if (pendingBytes >= WRITE_SIZE) await flush()
    }
    await flush()
  } catch (error) {
    // Failures of the disk are WharfErrors by now; anything else broke the response midway.
    if (isWharfError(error) || signal?.aborted) throw error
    throw remoteErrorOf(error, { key, action: 'read' })
  } finally {
    body.destroy()
  }
  if (position !== piece.end) throw changed({ key, size, seen: 'fewer bytes' })
}

/** Writes the chunks, in order, at `position`: one gathered write, without copying them into one buffer first. */
async function writeAllAt(handle: FileHandle, chunks: Uint8Array[], at: { length: number; position: number }): Promise<void> {
  const { length, position } = at
  const { bytesWritten } = await handle.writev(chunks, position)
  if (bytesWritten === length) return
  // A short write (rare for a regular file): write the rest from where it stopped.
  const rest = Buffer.concat(chunks, length).subarray(bytesWritten)
  for (let written = 0; written < rest.length;) {
    const result = await handle.write(rest, written, rest.length - written, position + bytesWritten + written)
    written += result.bytesWritten
  }
}

function changed(options: { key: string; size: number; seen: string; cause?: unknown }): WharfError {
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `"${printable(options.key)}" changed while it was downloaded: the listing said ${options.size} bytes, the storage sent ${options.seen}; nothing was kept, run the download again`,
    {
      details: { key: printable(options.key, 1024), size: options.size },
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    },
  )
}

/** The digest of a file written front to back (one piece), hashed as the bytes pass. */
class LiveDigest {
  readonly #algorithm: DigestAlgorithm
  readonly #hash
  #hashed = 0

  constructor(algorithm: DigestAlgorithm) {
    this.#algorithm = algorithm
    this.#hash = createHash(algorithm)
  }

  written(at: number, chunks: Uint8Array[]): void {
    if (at !== this.#hashed)
      throw new WharfError('INTERNAL', `a download wrote byte ${at} while ${this.#hashed} bytes were hashed`)
    for (const chunk of chunks) {
      this.#hash.update(chunk)
      this.#hashed += chunk.length
    }
  }

  digest(size: number): string {
    if (this.#hashed !== size) throw new WharfError('INTERNAL', `the download hashed ${this.#hashed} of ${size} bytes`)
    return this.#hash.digest(DIGEST_ENCODING[this.#algorithm])
  }
}
