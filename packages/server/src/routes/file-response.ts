import { Readable } from 'node:stream'
import { WharfError, assertWithinLimit, printable, type Limits } from '@wharf/contract'
import { toDatastoreKey, type DatastoreDriver, type DatastoreKey } from '@wharf/datastores'
import type { AppContext } from '../http.js'

/** What a download needs to know of a stored file: where its bytes are and what they are. */
export interface StoredFile {
  key: string
  size: number
  /** Hex SHA-256, when known (artifacts and assets); it becomes the ETag. */
  sha256?: string
  /** Base64 MD5, when the storage keeps one; sent as Content-MD5 and used as ETag without a SHA-256. */
  contentMd5?: string
  contentType: string
}

/**
 * The file path after `mark` in the request URL (a `*` route tail), decoded segment by segment and
 * checked with `toDatastoreKey`: UNSAFE_PATH for traversal, absolute paths and the like.
 */
export function pathAfter(
  c: AppContext,
  options: { mark: string; what: string; limits: Pick<Limits, 'artifactPathLength'> },
): DatastoreKey {
  // The raw pathname, not Hono's decoded parameter: an encoded `%2F` must stay inside its segment.
  const pathname = new URL(c.req.url).pathname
  const at = pathname.indexOf(options.mark)
  const encoded = at < 0 ? '' : pathname.slice(at + options.mark.length)
  let decoded: string
  try {
    decoded = encoded.split('/').map(decodeURIComponent).join('/')
  } catch (cause) {
    throw new WharfError('INVALID_ARGUMENT', `the ${options.what} "${printable(encoded)}" is not valid URL encoding`, { cause })
  }
  assertWithinLimit(options.limits, 'artifactPathLength', { what: `the ${options.what} length`, actual: decoded.length })
  return toDatastoreKey(decoded)
}

/** Parses a single `bytes=` range against a size; undefined for none or for forms we answer in full. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match) return undefined // several ranges or another unit: RFC 9110 lets us send the whole body
  const [, from = '', to = ''] = match
  if (from === '' && to === '') return undefined
  let start: number
  let end: number
  if (from === '') {
    const suffix = Number(to)
    if (suffix === 0) throw unsatisfiable(header, size)
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(from)
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1)
  }
  if (start >= size || start > end) throw unsatisfiable(header, size)
  return { start, end }
}

function unsatisfiable(header: string, size: number): WharfError {
  return new WharfError('RANGE_NOT_SATISFIABLE', `range "${printable(header)}" is outside the file (${size} bytes)`, {
    details: { size },
  })
}

/**
 * Types a browser would run as a page of this server's origin if opened in a tab (scripts in an SVG, an
 * HTML page): sent as attachments, so they are saved, never rendered. Stored content types are whatever
 * the uploader declared.
 */
const ACTIVE_TYPES = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|[^;]*\+xml)\b/i

/**
 * Headers every stored file is sent with, whoever uploaded it: no type sniffing, and a sandbox (no
 * scripts, no same-origin access) should a browser render it as a page; active types as attachments.
 */
export function untrustedFileHeaders(options: { contentType: string; key: string }): Record<string, string> {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'content-security-policy': "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
  }
  if (ACTIVE_TYPES.test(options.contentType.trim())) {
    const name = options.key.split('/').pop() ?? 'file'
    headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(name)}`
  }
  return headers
}

/**
 * Answers a GET (or HEAD) for a stored file: its type, length, sha256 as ETag and `x-wharf-sha256`, and
 * the asked `Range` as 206 with Content-Range; the bytes stream from the driver. Stored bytes are
 * untrusted: see {@link untrustedFileHeaders}.
 */
export async function storedFileResponse(
  c: AppContext,
  options: { driver: DatastoreDriver; file: StoredFile },
): Promise<Response> {
  const { driver, file } = options
  const range = parseRange(c.req.header('range'), file.size)
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    'accept-ranges': 'bytes',
    ...untrustedFileHeaders({ contentType: file.contentType, key: file.key }),
  }
  if (file.sha256 !== undefined) {
    headers.etag = `"${file.sha256}"`
    headers['x-wharf-sha256'] = file.sha256
  } else if (file.contentMd5 !== undefined) {
    headers.etag = `"${file.contentMd5}"`
  }
  if (file.contentMd5 !== undefined && range === undefined) headers['content-md5'] = file.contentMd5
  if (c.req.method === 'HEAD') {
    headers['content-length'] = String(file.size)
    return new Response(null, { status: 200, headers })
  }
  const stream = await driver.get(toDatastoreKey(file.key), range ? { range } : {})
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${file.size}`
    headers['content-length'] = String(range.end - range.start + 1)
  } else {
    headers['content-length'] = String(file.size)
  }
  return new Response(Readable.toWeb(stream) as ReadableStream, { status: range ? 206 : 200, headers })
}
