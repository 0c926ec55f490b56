import { WharfError, paginate, printable, type Page } from '@wharf/contract'
import type { FileInfo, PagedIterable, SkippedName } from './driver.js'
import { toDatastoreKey, type DatastoreKey } from './key.js'

/** The page size of a listing (`pageSize`, else the default); INVALID_ARGUMENT unless a whole number ≥ 1. */
export function listPageSize(pageSize: number | undefined, fallback: number): number {
  const size = pageSize ?? fallback
  if (!(Number.isSafeInteger(size) && size > 0)) {
    throw new WharfError('INVALID_ARGUMENT', `the page size ${String(size)} is not a whole number ≥ 1`)
  }
  return size
}

/** Byte order of the UTF-8 keys, the order object stores list in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/**
 * How a walk that resumes after the key `after` treats the folder whose keys start with `keyPrefix`:
 * `'skip'` when every key in it comes before `after`, else the `after` to walk it with (undefined: all
 * of it).
 */
export function resumeInFolder(keyPrefix: string, after: string | undefined): 'skip' | { after: string | undefined } {
  if (after === undefined || after.startsWith(keyPrefix)) return { after }
  return compareKeys(keyPrefix, after) < 0 ? 'skip' : { after: undefined }
}

function checkToken(token: string): string {
  try {
    return toDatastoreKey(token)
  } catch (cause) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the page token "${printable(token)}" was not made by this listing; start again without one`,
      {
        cause,
      },
    )
  }
}

/**
 * Pages over a walk that yields files, and the stored names it leaves out, in key order, starting after
 * a key. The page token is the last key of a page. The walk of the last page is kept, so walking page
 * after page reads each folder once; any other token starts a fresh walk after it. Each left-out name
 * goes to `onSkipped` while the page it falls in (after the previous page's last key, up to this page's)
 * is fetched, or the last page's; a fresh walk after a token tells only of those after it, so page by
 * page each is told once.
 */
export function paginateWalk(options: {
  pageSize: number
  signal?: AbortSignal | undefined
  onSkipped?: ((skipped: SkippedName) => void) | undefined
  walk: (after: string | undefined) => AsyncGenerator<WalkStep> | Promise<AsyncGenerator<WalkStep>>
}): PagedIterable<FileInfo> {
  const { signal, walk } = options
  const tell = (skipped: readonly SkippedName[]): void => {
    for (const name of skipped) options.onSkipped?.(name)
  }
  let kept: { after: string; walker: AsyncGenerator<WalkStep>; skipped: SkippedName[]; next: FileInfo } | undefined
  return paginate(async (pageToken, pageSize = options.pageSize): Promise<Page<FileInfo>> => {
    signal?.throwIfAborted()
    const after = pageToken === undefined ? undefined : checkToken(pageToken)
    const resumed = kept !== undefined && kept.after === after ? kept : undefined
    kept = undefined
    const walker = resumed?.walker ?? (await walk(after))
    const items: FileInfo[] = []
    if (resumed) {
      tell(resumed.skipped)
      items.push(resumed.next)
    }
    while (items.length < pageSize) {
      const step = await walker.next()
      if (step.done) return { items }
      if (isSkipped(step.value)) tell([step.value])
      else items.push(step.value)
    }
    // Looking ahead for one more file: the names passed on the way belong to the next page.
    const skipped: SkippedName[] = []
    for (;;) {
      const step = await walker.next()
      if (step.done) {
        tell(skipped)
        return { items }
      }
      if (isSkipped(step.value)) {
        skipped.push(step.value)
        continue
      }
      const last = items[items.length - 1]?.key ?? ''
      kept = { after: last, walker, skipped, next: step.value }
      return { items, nextPageToken: last }
    }
  })
}

/** What a walk for {@link paginateWalk} yields: a file, or a stored name it leaves out and why. */
export type WalkStep = FileInfo | SkippedName

function isSkipped(step: WalkStep): step is SkippedName {
  return 'reason' in step
}

/**
 * One name of a folder a walk reads: a file or a folder to list (with what the driver keeps of it), or a
 * name no key can have, left out. `order` is the UTF-8 bytes a key walk sorts by: the name, with a `/`
 * after a folder's.
 */
export type FolderEntry<T extends object> =
  ({ name: string; kind: 'file' | 'folder'; order: Buffer } & T) | { kind: 'skipped'; skipped: SkippedName; order: Buffer }

/** Where a walk goes down into a folder: the key prefix of its entries and the key to resume after there. */
export interface Subfolder {
  keyPrefix: string
  after: string | undefined
}

/**
 * The walk of one folder's entries (sorted here, in place) in key byte order, resuming after the key `after`: each file as `file`
 * makes it (nothing when it is gone), each folder as `folder` walks it (folders wholly before `after` are
 * passed by), and the names left out that come after `after` (a folder once, for all under it). The
 * filesystem and Azure Files drivers list this way, one folder at a time.
 */
export async function* walkFolderEntries<T extends object>(
  entries: Array<FolderEntry<T>>,
  options: {
    keyPrefix: string
    after: string | undefined
    file: (entry: FolderEntry<T> & { kind: 'file' }, key: DatastoreKey) => Promise<FileInfo | undefined> | FileInfo | undefined
    folder: (entry: FolderEntry<T> & { kind: 'folder' }, subfolder: Subfolder) => AsyncGenerator<WalkStep>
  },
): AsyncGenerator<WalkStep> {
  const { keyPrefix, after } = options
  entries.sort((a, b) => Buffer.compare(a.order, b.order))
  for (const entry of entries) {
    if (entry.kind === 'skipped') {
      if (!isPassed(Buffer.concat([Buffer.from(keyPrefix), entry.order]), after)) yield entry.skipped
      continue
    }
    const key = keyPrefix + entry.name
    if (entry.kind === 'file') {
      if (after !== undefined && compareKeys(key, after) <= 0) continue
      const info = await options.file(entry as FolderEntry<T> & { kind: 'file' }, key as DatastoreKey)
      if (info) yield info
      continue
    }
    const subfolder = `${key}/`
    const resume = resumeInFolder(subfolder, after)
    if (resume === 'skip') continue
    yield* options.folder(entry as FolderEntry<T> & { kind: 'folder' }, { keyPrefix: subfolder, after: resume.after })
  }
}

/**
 * Whether a walk resuming after the key `after` has passed the stored name at `position` (the UTF-8 bytes
 * of its path, with a `/` after a folder's) already: true when it sorts before or at `after`.
 */
function isPassed(position: Buffer, after: string | undefined): boolean {
  return after !== undefined && Buffer.compare(position, Buffer.from(after)) <= 0
}
