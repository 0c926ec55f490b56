import { PassThrough, Readable, addAbortSignal } from 'node:stream'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { DEFAULT_LIMITS, WharfError, isWharfError, paginate, printable, type Page } from '@wharf/contract'
import { fileExists, fileNotFound } from '../driver-errors.js'
import type { DatastoreDriver, FileInfo, GetOptions, ListOptions, PagedIterable, PutOptions, PutResult } from '../driver.js'
import { HashingStream, feedBody } from '../hashing.js'
import { keyProblemOf, toDatastoreKey, toKeyPrefix, type DatastoreKey } from '../key.js'
import { listPageSize } from '../paging.js'
import { checkGet, rangeWithin } from '../range.js'

/** Options for {@link createS3Driver}. */
export interface S3DriverOptions {
  /** The bucket that holds the datastore. */
  bucket: string
  /** The bucket's region; `us-east-1` when absent. */
  region?: string
  /** A custom endpoint (an S3-compatible server such as MinIO or s3rver); AWS when absent. */
  endpoint?: string
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  forcePathStyle?: boolean
  credentials: { accessKeyId: string; secretAccessKey: string }
  /** Not supported yet: a datastore is a whole bucket. */
  prefix?: never
  /** Bytes per part of a multipart upload (at least 5 MiB); 8 MiB when absent. */
  partSize?: number
  /** Parts of one upload sent at the same time; 4 when absent. Memory per put is about partSize × concurrency. */
  concurrency?: number
}

const MIN_PART_SIZE = 5 * 1024 * 1024
const DEFAULT_PART_SIZE = 8 * 1024 * 1024
const DEFAULT_CONCURRENCY = 4
const REFUSED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
])
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound'])
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
])

/**
 * A datastore in an S3 bucket (AWS or an S3-compatible server). Puts stream through a multipart
 * upload (or one PutObject for small bodies), so an object appears only once it is complete and a
 * failed put leaves what was there. The secret access key never appears in an error.
 */
export function createS3Driver(options: S3DriverOptions): DatastoreDriver {
  const { bucket, credentials } = options
  if (typeof bucket !== 'string' || bucket === '') {
    throw new WharfError('INVALID_ARGUMENT', 'an s3 datastore needs the name of its bucket (option "bucket")')
  }
  if (typeof credentials?.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'an s3 datastore needs an access key id and a secret access key (option "credentials")',
    )
  }
  if ((options as { prefix?: unknown }).prefix !== undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'an s3 datastore is a whole bucket; a key prefix (option "prefix") is not supported yet',
    )
  }
  const partSize = options.partSize ?? DEFAULT_PART_SIZE
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the part size ${String(partSize)} is not a whole number of bytes ≥ ${MIN_PART_SIZE} (5 MiB, the S3 minimum)`,
    )
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new WharfError('INVALID_ARGUMENT', `the concurrency ${String(concurrency)} is not a whole number ≥ 1`)
  }
  return new S3Driver({ ...options, partSize, concurrency })
}

interface Signal {
  signal?: AbortSignal | undefined
}

type ResolvedOptions = S3DriverOptions & { partSize: number; concurrency: number }

class S3Driver implements DatastoreDriver {
  readonly kind = 's3' as const
  readonly #client: S3Client
  readonly #bucket: string
  readonly #endpoint: string
  readonly #partSize: number
  readonly #concurrency: number
  /** Named in errors so the user can tell which key was refused; the secret never is. */
  readonly #accessKeyId: string

  constructor(options: ResolvedOptions) {
    const region = options.region ?? 'us-east-1'
    this.#bucket = options.bucket
    this.#endpoint = options.endpoint ?? `https://s3.${region}.amazonaws.com`
    this.#partSize = options.partSize
    this.#concurrency = options.concurrency
    this.#accessKeyId = options.credentials.accessKeyId
    this.#client = new S3Client({
      region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
      credentials: { accessKeyId: options.credentials.accessKeyId, secretAccessKey: options.credentials.secretAccessKey },
    })
  }

  async put(key: DatastoreKey, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options
    const safe = toDatastoreKey(key)
    const hasher = new HashingStream(options.size === undefined ? {} : { size: options.size })
    signal?.throwIfAborted()
    // As in the filesystem driver, the body is piped (not destroyed on failure: an HTTP request must stay
    // open for the error response) and `finished` turns its error or early close into the hasher's. The
    // hasher's error is read back through the feed (callerError); it must never go unhandled meanwhile.
    hasher.on('error', () => undefined)
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: this.#bucket,
        Key: safe,
        Body: hasher,
        ContentType: options.contentType ?? 'application/octet-stream',
        // Sent with PutObject and CompleteMultipartUpload: S3 refuses the write when any object is there.
        ...(options.ifNotExists ? { IfNoneMatch: '*' } : {}),
      },
      partSize: this.#partSize,
      queueSize: this.#concurrency,
      leavePartsOnError: false,
    })
    const onAbort = (): void => {
      void upload.abort()
      hasher.destroy()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const feed = feedBody(body, hasher)
    try {
      await upload.done()
    } catch (error) {
      // The caller's own failures (its body, its abort) come back as they are.
      if (feed.bodyError !== undefined) throw feed.bodyError
      if (signal?.aborted) throw abortErrorOf(error, signal)
      // A size mismatch is the hasher's refusal; a failed abort of the multipart upload must not hide it.
      const refused = feed.callerError()
      if (refused !== undefined) throw refused
      if (isWharfError(error)) throw error
      // 412: an object is there; 409: another conditional write of the key is being committed right now.
      if (options.ifNotExists && (statusOf(error) === 412 || nameOf(error) === 'ConditionalRequestConflict'))
        throw fileExists(safe, error)
      throw this.#translate(error, { action: `write "${printable(safe)}"` })
    } finally {
      signal?.removeEventListener('abort', onAbort)
      feed.release()
    }
    return hasher.result()
  }

  async get(key: DatastoreKey, options: GetOptions = {}): Promise<Readable> {
    const { signal, range } = options
    const safe = toDatastoreKey(key)
    checkGet(options)
    let response
    try {
      response = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: safe,
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
        signal ? { abortSignal: signal } : {},
      )
    } catch (error) {
      if (isNotFound(error)) throw fileNotFound(safe, error)
      if (statusOf(error) === 416 && range) {
        // Ask for the size, so the error is the one range.ts gives (or FILE_NOT_FOUND if it went meanwhile).
        const info = await this.stat(safe, signal ? { signal } : {})
        if (info === undefined) throw fileNotFound(safe, error)
        rangeWithin(range, { size: info.size, key: safe })
        throw new WharfError(
          'RANGE_NOT_SATISFIABLE',
          `the range starting at byte ${range.start} is past the end of "${printable(safe)}"`,
          {
            cause: error,
          },
        )
      }
      throw this.#translate(error, { action: `read "${printable(safe)}"`, signal })
    }
    const body = response.Body
    if (!(body instanceof Readable)) {
      throw new WharfError('INTERNAL', `reading "${printable(safe)}" from the s3 bucket "${this.#bucket}" gave no byte stream`)
    }
    let stream: Readable = body
    if (range) {
      try {
        stream = this.#exactRange({ body, range, key: safe, served: servedOf(response) })
      } catch (error) {
        body.destroy()
        throw error
      }
    }
    return signal ? addAbortSignal(signal, stream) : stream
  }

  async stat(key: DatastoreKey, options: Signal = {}): Promise<FileInfo | undefined> {
    const safe = toDatastoreKey(key)
    const { signal } = options
    signal?.throwIfAborted()
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: safe }),
        signal ? { abortSignal: signal } : {},
      )
      return {
        key: safe,
        size: head.ContentLength ?? 0,
        modifiedAt: (head.LastModified ?? new Date()).toISOString(),
      }
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw this.#translate(error, { action: `read "${printable(safe)}"`, signal })
    }
  }

  async delete(key: DatastoreKey, options: Signal = {}): Promise<void> {
    const safe = toDatastoreKey(key)
    const { signal } = options
    signal?.throwIfAborted()
    try {
      // S3 answers a delete of a missing key with success, so this is idempotent as it is.
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: safe }), signal ? { abortSignal: signal } : {})
    } catch (error) {
      if (isNotFound(error)) return
      throw this.#translate(error, { action: `delete "${printable(safe)}"`, signal })
    }
  }

  list(options: ListOptions = {}): PagedIterable<FileInfo> {
    const prefix = toKeyPrefix(options.prefix ?? '')
    const { signal } = options
    const defaultSize = listPageSize(options.pageSize, DEFAULT_LIMITS.pageSize)
    // ListObjects (v1) with Marker rather than v2 with a continuation token: every S3 server has it, and
    // s3rver's v2 tokens use DES, which OpenSSL 3 (Node ≥ 17) no longer offers, so its truncated v2
    // listings fail. The page token is the last key the server returned; S3 resumes after it.
    return paginate(async (pageToken, pageSize = defaultSize): Promise<Page<FileInfo>> => {
      signal?.throwIfAborted()
      let response
      try {
        response = await this.#client.send(
          new ListObjectsCommand({
            Bucket: this.#bucket,
            ...(prefix === '' ? {} : { Prefix: prefix }),
            MaxKeys: Math.min(pageSize, 1000),
            ...(pageToken === undefined ? {} : { Marker: pageToken }),
          }),
          signal ? { abortSignal: signal } : {},
        )
      } catch (error) {
        throw this.#translate(error, { action: `list "${printable(prefix)}"`, signal })
      }
      const items: FileInfo[] = []
      let last: string | undefined
      for (const object of response.Contents ?? []) {
        const name = object.Key
        if (name === undefined) continue
        last = name
        const size = object.Size ?? 0
        const modifiedAt = (object.LastModified ?? new Date()).toISOString()
        // Objects other tools made under names no key can have (such as `folder/` markers) are not files here.
        const reason = keyProblemOf(name)
        if (reason !== undefined) {
          options.onSkipped?.({ name, size, modifiedAt, reason })
          continue
        }
        items.push({ key: name as DatastoreKey, size, modifiedAt })
      }
      // S3 lists in UTF-8 byte order; s3rver orders by UTF-16 code units, which differs for characters
      // beyond U+FFFF. Within a page this puts them right; across pages the server's order stands.
      items.sort((x, y) => Buffer.compare(Buffer.from(x.key), Buffer.from(y.key)))
      const next = response.IsTruncated === true ? (response.NextMarker ?? last) : undefined
      return next === undefined || next === '' ? { items } : { items, nextPageToken: next }
    })
  }

  async validate(options: { create?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options
    signal?.throwIfAborted()
    const send = signal ? { abortSignal: signal } : {}
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), send)
      return
    } catch (error) {
      if (!(isNotFound(error) || nameOf(error) === 'NoSuchBucket'))
        throw this.#translate(error, { action: 'check the bucket', signal })
      if (!options.create) {
        throw new WharfError(
          'DATASTORE_UNAVAILABLE',
          `the s3 bucket "${this.#bucket}" does not exist at ${this.#endpoint}; create it, or validate the datastore with create`,
          { details: this.#details(), cause: error },
        )
      }
    }
    try {
      await this.#client.send(new CreateBucketCommand({ Bucket: this.#bucket }), send)
    } catch (error) {
      if (nameOf(error) === 'BucketAlreadyOwnedByYou') return
      if (nameOf(error) === 'BucketAlreadyExists') {
        throw new WharfError(
          'FORBIDDEN',
          `the s3 bucket name "${this.#bucket}" at ${this.#endpoint} is taken by another account; choose another name`,
          {
            details: this.#details(),
            cause: error,
          },
        )
      }
      throw this.#translate(error, { action: 'create the bucket', signal })
    }
  }

  /**
   * The body cut to exactly the asked range. Mirrors range.ts even where a server does not: some answer
   * a start at the end of an empty object with an empty 206, and s3rver ignores a range start or end of 0
   * and sends more than was asked for.
   */
  #exactRange(options: {
    body: Readable
    range: { start: number; end?: number }
    key: string
    served: Served | undefined
  }): Readable {
    const { body, range, key, served } = options
    if (served === undefined) return body
    const wanted = rangeWithin(range, { size: served.size, key })
    if (served.start === wanted.start && served.end === wanted.end) return body
    if (served.start > wanted.start || served.end < wanted.end) {
      throw new WharfError(
        'DATASTORE_UNAVAILABLE',
        `reading bytes ${wanted.start}-${wanted.end} of "${printable(key)}" from the s3 bucket "${this.#bucket}" at ${this.#endpoint} gave bytes ${served.start}-${served.end} instead`,
        { details: this.#details() },
      )
    }
    const sliced = slice(body, { skip: wanted.start - served.start, take: wanted.end - wanted.start + 1 })
    return sliced
  }

  /** Refused credentials become FORBIDDEN, an unreachable or failing server DATASTORE_UNAVAILABLE; the rest stay as they are. */
  #translate(error: unknown, options: { action: string; signal?: AbortSignal | undefined }): unknown {
    if (isWharfError(error)) return error
    if (options.signal?.aborted) return error
    const name = nameOf(error)
    const status = statusOf(error)
    const where = `the s3 bucket "${this.#bucket}" at ${this.#endpoint}`
    if (status === 403 || (name !== undefined && REFUSED.has(name))) {
      const reason = name === undefined || name === 'Unknown' || /^\d+$/.test(name) ? `HTTP ${String(status ?? 403)}` : name
      return new WharfError(
        'FORBIDDEN',
        `could not ${options.action}: ${where} refused the credentials (access key id "${printable(this.#accessKeyId)}", ${reason}); check the access key, its secret and its permissions`,
        // The registration field to correct (a form shows the error there).
        { details: { ...this.#details(), field: 'secretAccessKey' }, cause: error },
      )
    }
    if (name === 'NoSuchBucket') {
      return new WharfError(
        'DATASTORE_UNAVAILABLE',
        `could not ${options.action}: ${where} does not exist; create it, or validate the datastore with create`,
        {
          details: this.#details(),
          cause: error,
        },
      )
    }
    const code = codeOf(error)
    if ((status !== undefined && status >= 500) || (code !== undefined && UNREACHABLE.has(code)) || name === 'TimeoutError') {
      const reason = code ?? name ?? String(status)
      return new WharfError('DATASTORE_UNAVAILABLE', `could not ${options.action}: ${where} cannot be reached (${reason})`, {
        details: this.#details(),
        cause: error,
      })
    }
    return error
  }

  #details(): Record<string, string> {
    return { bucket: this.#bucket, endpoint: this.#endpoint }
  }
}

function abortErrorOf(error: unknown, signal: AbortSignal): unknown {
  if (error instanceof Error && error.name === 'AbortError') return error
  return signal.reason ?? error
}

function isNotFound(error: unknown): boolean {
  const name = nameOf(error)
  if (name !== undefined && NOT_FOUND.has(name)) return true
  // A HEAD has no body, so a missing object shows only as a bare 404.
  return statusOf(error) === 404 && name !== 'NoSuchBucket'
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode
  return undefined
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

interface Served {
  start: number
  end: number
  size: number
}

/** Which bytes a GetObject answer holds: its `Content-Range: bytes a-b/size`, or all of them without one. */
function servedOf(response: { ContentRange?: string | undefined; ContentLength?: number | undefined }): Served | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange ?? '')
  if (match?.[1] !== undefined && match[2] !== undefined && match[3] !== undefined) {
    return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) }
  }
  const size = response.ContentLength
  return size === undefined ? undefined : { start: 0, end: size - 1, size }
}

/** `take` bytes of `source` after skipping `skip`; the source is destroyed once they have passed. */
function slice(source: Readable, options: { skip: number; take: number }): Readable {
  let skip = options.skip
  let take = options.take
  const out = new PassThrough()
  source.on('data', (chunk: Buffer) => {
    if (take <= 0) return
    let piece = chunk
    if (skip > 0) {
      const dropped = Math.min(skip, piece.length)
      skip -= dropped
      piece = piece.subarray(dropped)
    }
    if (piece.length === 0) return
    if (piece.length > take) piece = piece.subarray(0, take)
    take -= piece.length
    if (!out.write(piece)) source.pause()
    if (take <= 0) {
      out.end()
      source.destroy()
    }
  })
  out.on('drain', () => source.resume())
  source.on('end', () => out.end())
  source.on('error', (error) => out.destroy(error))
  out.on('close', () => source.destroy())
  return out
}
