import { randomBytes } from 'node:crypto'
import { WharfError, isWharfError, printable } from '@wharf/contract'

/** A checked, normalised, relative `/`-separated key; only {@link toDatastoreKey} and {@link joinKey} make one. */
export type DatastoreKey = string & { readonly __brand: 'DatastoreKey' }

/** The most UTF-8 bytes one segment of a key may have (the common file-name limit). */
export const MAX_KEY_SEGMENT_BYTES = 255

/** Names starting with this are a driver's in-progress uploads; no key may use it. */
export const RESERVED_SEGMENT_PREFIX = '.wharf-tmp-'

// C0 controls, DEL and C1 controls: NUL ends C strings, the rest break terminals and logs.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/
// A lone surrogate cannot be encoded as UTF-8, so the stored name would not match the key.
const LONE_SURROGATE = /\p{Cs}/u
const DRIVE_LETTER = /^[A-Za-z]:/

/**
 * Checks and normalises a key: `\` becomes `/`, repeated `/` collapse, a leading `./` and a trailing `/`
 * are dropped. Throws UNSAFE_PATH for an empty key, an absolute path, a drive letter, `.` or `..`
 * segments, control characters, ill-formed Unicode, a reserved name or a segment over 255 bytes.
 */
export function toDatastoreKey(raw: string): DatastoreKey {
  const key = normalise(raw, 'key').replace(/\/$/, '')
  if (key === '') throw unsafe(raw, 'key', 'it is empty; name a file such as "data/train.csv"')
  checkSegments(raw, key.split('/'), 'key')
  return key as DatastoreKey
}

/**
 * Checks and normalises a listing prefix the way {@link toDatastoreKey} does a key, except that it may
 * be empty (everything) and keeps one trailing `/` (only what is inside that folder). Throws UNSAFE_PATH.
 */
export function toKeyPrefix(raw: string): string {
  const prefix = normalise(raw, 'prefix')
  if (prefix === '') return ''
  const segments = prefix.split('/')
  checkSegments(raw, prefix.endsWith('/') ? segments.slice(0, -1) : segments, 'prefix')
  return prefix
}

/**
 * Joins key parts with `/`; each part must itself be a safe key (it may contain `/`). Throws UNSAFE_PATH
 * naming the offending part.
 */
export function joinKey(...parts: string[]): DatastoreKey {
  if (parts.length === 0) throw unsafe('', 'key', 'no parts were given to join')
  return toDatastoreKey(parts.map((part) => toDatastoreKey(part)).join('/'))
}

function normalise(raw: string, what: 'key' | 'prefix'): string {
  if (typeof raw !== 'string') throw unsafe(String(raw), what, 'it is not a string')
  if (CONTROL_CHARS.test(raw)) throw unsafe(raw, what, 'it contains a control character (such as NUL or a newline)')
  if (LONE_SURROGATE.test(raw)) throw unsafe(raw, what, 'it is not well-formed Unicode (a lone surrogate)')
  let text = raw.replaceAll('\\', '/')
  if (text.startsWith('/')) {
    throw unsafe(
      raw,
      what,
      `it is an absolute path; give a path relative to the datastore, such as "${printable(text.replace(/^\/+/, ''))}"`,
    )
  }
  text = text.replace(/\/{2,}/g, '/')
  while (text.startsWith('./')) text = text.slice(2)
  if (DRIVE_LETTER.test(text)) throw unsafe(raw, what, 'it starts with a drive letter; give a path relative to the datastore')
  return text
}

function checkSegments(raw: string, segments: readonly string[], what: 'key' | 'prefix'): void {
  for (const segment of segments) {
    if (segment === '.' || segment === '..') {
      throw unsafe(raw, what, `"${segment}" segments are not allowed; write the path without them`)
    }
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
      throw unsafe(raw, what, `names starting with "${RESERVED_SEGMENT_PREFIX}" are reserved for uploads in progress`)
    }
    const bytes = Buffer.byteLength(segment, 'utf8')
    if (bytes > MAX_KEY_SEGMENT_BYTES) {
      throw unsafe(
        raw,
        what,
        `the segment "${printable(segment, 40)}" is ${bytes} bytes of UTF-8; the limit is ${MAX_KEY_SEGMENT_BYTES}`,
      )
    }
  }
}

function unsafe(raw: string, what: 'key' | 'prefix', rule: string): WharfError {
  return new WharfError('UNSAFE_PATH', `the datastore ${what} "${printable(raw)}" is not allowed: ${rule}`, {
    details: { [what]: printable(raw, 1024), rule },
  })
}

/**
 * Why a stored name (a blob or object name, or the path of a file in a folder or share, that another tool
 * wrote) cannot be a key, and so cannot be a local path; undefined when it is a key exactly as it is.
 * Listings leave such names out and report them.
 */
export function keyProblemOf(name: string): string | undefined {
  let key: string
  try {
    key = toDatastoreKey(name)
  } catch (error) {
    const rule = isWharfError(error) ? error.details?.rule : undefined
    return typeof rule === 'string' ? rule : String(error)
  }
  if (key === name) return undefined
  if (name.endsWith('/')) return 'it ends in "/" (a folder marker, not a file)'
  if (name.includes('\\')) return 'it contains "\\", a folder separator on Windows'
  if (name.includes('//')) return 'it has an empty folder name ("//")'
  return 'it starts with "./"'
}

/** The reason a listing gives for a folder whose name cannot be a path, left out with everything under it. */
export function unusableFolderReason(problem: string): string {
  return `a folder whose name cannot be a path (${problem}); the files under it are not listed`
}

/**
 * Why a listed entry cannot be given a key: for a file its own problem, for a folder (and so everything
 * under it) the folder's. Undefined when the name is a usable key.
 */
export function entryProblemOf(name: string, options: { folder: boolean }): string | undefined {
  const problem = keyProblemOf(name)
  return problem === undefined || !options.folder ? problem : unusableFolderReason(problem)
}

/** A fresh name for a driver's own temp file, under the reserved prefix that listings leave out. */
export function tempSegmentName(): string {
  return `${RESERVED_SEGMENT_PREFIX}${randomBytes(12).toString('hex')}`
}
