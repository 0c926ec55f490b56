import { constants, type Dirent, type Stats } from 'node:fs'
import { execFile } from 'node:child_process'
import {
  access,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rmdir,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises'
import path from 'node:path'
import { addAbortSignal, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { TextDecoder } from 'node:util'
import { DEFAULT_LIMITS, WharfError, isWharfError, printable } from '@wharf/contract'
import { fileExists, fileNotFound } from '../driver-errors.js'
import { assertFolderWithin, isInside, makeFolderWithin } from './containment.js'
import type {
  DatastoreDriver,
  FileInfo,
  GetFileOptions,
  GetOptions,
  ListOptions,
  PagedIterable,
  PutFileOptions,
  PutFileResult,
  PutOptions,
  PutResult,
  SkippedName,
} from '../driver.js'
import { HashingStream, feedBody } from '../hashing.js'
import {
  RESERVED_SEGMENT_PREFIX,
  entryProblemOf,
  tempSegmentName,
  toDatastoreKey,
  toKeyPrefix,
  unusableFolderReason,
  type DatastoreKey,
} from '../key.js'
import { listPageSize, paginateWalk, walkFolderEntries, type FolderEntry, type WalkStep } from '../paging.js'
import { checkGet, rangeWithin } from '../range.js'

/** Options for {@link createFilesystemDriver}. */
export interface FilesystemDriverOptions {
  /** The datastore's folder; a relative path is resolved against the working directory once, here. */
  root: string
  /**
   * Folders the root must stay inside, links resolved, checked on every access (a root replaced by a
   * link after registering is refused with FORBIDDEN); any folder when absent.
   */
  allowedRoots?: readonly string[] | undefined
}

/**
 * A datastore in a local folder. Puts go to a temp file beside the target and are renamed over it, so
 * readers never see a partial file. Symbolic links are followed only while they stay inside the folder;
 * listings report the others to `onSkipped`, with names no key can have.
 */
export function createFilesystemDriver(options: FilesystemDriverOptions): DatastoreDriver {
  if (typeof options.root !== 'string' || options.root === '') {
    throw new WharfError('INVALID_ARGUMENT', 'a filesystem datastore needs the path of its folder (option "root")')
  }
  return new FilesystemDriver(path.resolve(options.root), options.allowedRoots)
}

interface Signal {
  signal?: AbortSignal | undefined
}

interface Folder {
  real: string
  keyPrefix: string
  namePrefix: string
  after: string | undefined
  ancestors: ReadonlySet<string>
  signal: AbortSignal | undefined
}

/** One name of a folder: a file or folder to list (`real` is where it is, links resolved), or one left out. */
type Entry = FolderEntry<{ real: string }>

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ELOOP'])
/** What link() fails with on a filesystem without hard links. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])
/** A reflink where the filesystem can make one (btrfs, xfs, APFS), else the kernel's own copy; never over an existing file. */
const COPY_MODE = constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE
/**
 * From this many files on, {@link FilesystemDriver.syncKeys} syncs the whole filesystem once (Linux
 * syncfs through `sync -f`) instead of one fsync per file and folder: measured on ext4, 10,000 files of
 * 4 KiB took ~3 s of fsyncs (64 at a time) and ~0.1 s as one syncfs. Below it, the fsyncs are cheaper
 * than starting a process and cannot be slowed by other writers' dirty pages.
 */
const SYNCFS_FROM = 64
/** fsyncs run at the same time by {@link FilesystemDriver.syncKeys}. */
const SYNC_CONCURRENCY = 32
const UTF8 = new TextDecoder('utf-8', { fatal: true })
/** Reads any bytes, with U+FFFD for those that are no UTF-8: the best printable form of such a name. */
const LOSSY_UTF8 = new TextDecoder('utf-8')

class FilesystemDriver implements DatastoreDriver {
  readonly kind = 'filesystem' as const
  readonly #root: string
  readonly #allowedRoots: readonly string[] | undefined

  constructor(root: string, allowedRoots: readonly string[] | undefined) {
    this.#root = root
    this.#allowedRoots = allowedRoots
  }

  async put(key: DatastoreKey, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options
    const safe = toDatastoreKey(key)
    const hasher = new HashingStream(options.size === undefined ? {} : { size: options.size })
    signal?.throwIfAborted()
    const root = await this.#rootReal()
    const segments = safe.split('/')
    const name = segments.pop() ?? safe
    const { folder, temp, handle } = await this.#openTemp(root, segments, safe)
    const target = path.join(folder, name)
    let received = false
    try {
      // Refuse before reading the body, not after storing all of it.
      if (await isFolder(target)) throw isAFolder(safe)
      await this.#receive({ body, hasher, handle, signal, key: safe })
      received = true
      signal?.throwIfAborted()
      await place({ temp, target, key: safe, replace: options.ifNotExists !== true })
    } catch (error) {
      await discard(handle, temp)
      if (!received) throw error // already told apart: the caller's failure, or the disk's as a WharfError
      if (!isWharfError(error) && (await isFolder(target))) throw isAFolder(safe, error)
      throw this.#translate(error, { action: `write "${printable(safe)}"`, signal })
    }
    await syncFolder(folder)
    return hasher.result()
  }

  async get(key: DatastoreKey, options: GetOptions = {}): Promise<Readable> {
    const { signal, range } = options
    const safe = toDatastoreKey(key)
    checkGet(options)
    const root = await this.#rootReal()
    const real = await this.#existing(root, safe)
    let handle: FileHandle
    try {
      if (real === undefined) throw fileNotFound(safe)
      handle = await open(real, 'r')
    } catch (error) {
      if (hasCode(error, MISSING)) throw fileNotFound(safe, error)
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
    try {
      const info = await handle.stat()
      if (!info.isFile()) throw fileNotFound(safe)
      const span = range ? rangeWithin(range, { size: info.size, key: safe }) : {}
      const stream = handle.createReadStream(span)
      return signal ? addAbortSignal(signal, stream) : stream
    } catch (error) {
      await handle.close().catch(() => undefined) // the read's own error is the one to report
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
  }

  /**
   * Copies the local file into a temp file beside the target (a reflink where the filesystem can make
   * one), checks its size, and renames it over the target: the same atomicity as {@link put}, and durable
   * before it resolves unless `deferSync` leaves that to {@link syncKeys}. Computes no digest (this storage
   * keeps none).
   */
  async putFile(key: DatastoreKey, localPath: string, options: PutFileOptions = {}): Promise<PutFileResult> {
    const { signal, size } = options
    const safe = toDatastoreKey(key)
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      throw new WharfError('INVALID_ARGUMENT', `the declared size ${String(size)} is not a whole number of bytes ≥ 0`)
    }
    signal?.throwIfAborted()
    const root = await this.#rootReal()
    const segments = safe.split('/')
    const name = segments.pop() ?? safe
    const { folder, temp } = await this.#copyToTemp({ root, segments, key: safe, localPath })
    const target = path.join(folder, name)
    try {
      const copied = (await stat(temp)).size
      if (size !== undefined && copied !== size) throw sizeMismatch(size, copied)
      if (!options.deferSync) await syncPath(temp)
      signal?.throwIfAborted()
      await place({ temp, target, key: safe, replace: options.ifNotExists !== true })
      if (!options.deferSync) await syncFolder(folder)
      return { size: copied }
    } catch (error) {
      await discard(undefined, temp)
      if (!isWharfError(error) && (await isFolder(target))) throw isAFolder(safe, error)
      throw this.#translate(error, { action: `write "${printable(safe)}"`, signal })
    }
  }

  /**
   * Makes the files at `keys` and their folder entries durable: one syncfs of the datastore's filesystem
   * for many keys (Linux), else an fsync of each file and each of their folders. A key that is gone (a
   * later delete) needs nothing.
   */
  async syncKeys(keys: readonly DatastoreKey[], options: Signal = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (keys.length === 0) return
    const root = await this.#rootReal()
    const files = keys.map((key) => path.join(root, ...toDatastoreKey(key).split('/')))
    const folders = [...new Set(files.map((file) => path.dirname(file)))]
    if (
      keys.length >= SYNCFS_FROM &&
      process.platform === 'linux' &&
      (await onOneDevice(folders)) &&
      (await syncFilesystem(folders[0] ?? root))
    )
      return
    let next = 0
    const work = [...files, ...folders]
    const worker = async (): Promise<void> => {
      for (let item = work[next++]; item !== undefined; item = work[next++]) {
        options.signal?.throwIfAborted()
        try {
          await syncPath(item)
        } catch (error) {
          if (hasCode(error, MISSING)) continue
          throw this.#unavailable(`could not make "${printable(path.relative(root, item))}" durable (fsync failed)`, error)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(SYNC_CONCURRENCY, work.length) }, worker))
  }

  /**
   * Copies the stored file to `targetPath` (a reflink where the filesystem can make one), never over an
   * existing file, and resolves with the bytes the copy holds.
   */
  async getFile(key: DatastoreKey, targetPath: string, options: GetFileOptions = {}): Promise<{ size: number }> {
    const safe = toDatastoreKey(key)
    options.signal?.throwIfAborted()
    const root = await this.#rootReal()
    const real = await this.#existing(root, safe)
    if (real === undefined) throw fileNotFound(safe)
    try {
      await copyFile(real, targetPath, COPY_MODE)
    } catch (error) {
      // Tell the stored file's failures from the target's: only the first are this storage's.
      const readable = await access(real, constants.R_OK).then(
        () => undefined,
        (cause: unknown) => cause,
      )
      if (readable !== undefined) {
        if (hasCode(readable, MISSING)) throw fileNotFound(safe, readable)
        throw this.#translate(readable, { action: `read "${printable(safe)}"` })
      }
      if (hasCode(error, new Set(['EISDIR'])) && !(await statIfPresent(real).catch(() => undefined))?.isFile())
        throw fileNotFound(safe, error)
      throw error
    }
    const info = await stat(targetPath)
    return { size: info.size }
  }

  async stat(key: DatastoreKey, options: Signal = {}): Promise<FileInfo | undefined> {
    const safe = toDatastoreKey(key)
    options.signal?.throwIfAborted()
    const root = await this.#rootReal()
    const real = await this.#existing(root, safe)
    if (real === undefined) return undefined
    const info = await statIfPresent(real).catch((error: unknown) => {
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    })
    return info?.isFile() ? fileInfo(safe, info) : undefined
  }

  async delete(key: DatastoreKey, options: Signal = {}): Promise<void> {
    const safe = toDatastoreKey(key)
    options.signal?.throwIfAborted()
    const root = await this.#rootReal()
    const segments = safe.split('/')
    const name = segments.pop() ?? safe
    const folder = await this.#existing(root, segments.join('/'))
    if (folder === undefined) return
    const target = path.join(folder, name)
    try {
      const info = await lstat(target)
      if (info.isSymbolicLink()) {
        // A link is removed itself (never its target), and only when it shows as a file: one inside the root.
        const real = await this.#existing(root, safe)
        if (real === undefined || !(await statIfPresent(real))?.isFile()) return
      } else if (!info.isFile()) {
        return
      }
      await unlink(target)
    } catch (error) {
      if (hasCode(error, MISSING)) return
      throw this.#translate(error, { action: `delete "${printable(safe)}"` })
    }
    // Folders exist only to hold files (as in object stores); pruning keeps a later put of `a` possible after `a/b` is gone.
    if (folder === path.join(root, ...segments)) await pruneEmptyFolders(folder, root)
  }

  list(options: ListOptions = {}): PagedIterable<FileInfo> {
    const prefix = toKeyPrefix(options.prefix ?? '')
    const { signal } = options
    return paginateWalk({
      pageSize: listPageSize(options.pageSize, DEFAULT_LIMITS.pageSize),
      signal,
      onSkipped: options.onSkipped,
      walk: async (after) => this.#walk({ root: await this.#rootReal(), prefix, after, signal }),
    })
  }

  async validate(options: { create?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (options.create) {
      try {
        // Never through a link that leads out of the allowed folders.
        if (this.#allowedRoots) await makeFolderWithin(this.#root, this.#allowedRoots)
        else await mkdir(this.#root, { recursive: true })
      } catch (error) {
        if (isWharfError(error)) throw error
        throw this.#unavailable('could not be created', error)
      }
    }
    let info: Stats
    try {
      info = await stat(this.#root)
    } catch (error) {
      if (hasCode(error, MISSING)) {
        throw this.#unavailable('does not exist; create it, or validate the datastore with create', error)
      }
      throw this.#unavailable('cannot be reached', error)
    }
    if (!info.isDirectory()) throw this.#unavailable('is not a folder; point the datastore at a folder')
    try {
      await access(this.#root, constants.R_OK | constants.W_OK | constants.X_OK)
    } catch (error) {
      throw this.#unavailable('cannot be written by the Wharf server; give it read and write access', error)
    }
    await this.#rootReal()
  }

  /**
   * The real path of the root folder (links resolved), resolved again on every access: the folder may
   * have been replaced by a link since the last one. FORBIDDEN when it now leads out of the allowed roots.
   */
  async #rootReal(): Promise<string> {
    let real: string
    let info: Stats
    try {
      real = await realpath(this.#root)
      info = await stat(real)
    } catch (error) {
      if (hasCode(error, MISSING)) {
        throw this.#unavailable('does not exist; create it, or validate the datastore with create', error)
      }
      throw this.#unavailable('cannot be reached', error)
    }
    if (!info.isDirectory()) throw this.#unavailable('is not a folder; point the datastore at a folder')
    if (this.#allowedRoots) await assertFolderWithin(this.#root, this.#allowedRoots)
    return real
  }

  /** The real path of `relative` when it exists and stays inside the root; undefined otherwise. */
  async #existing(root: string, relative: string): Promise<string | undefined> {
    try {
      const real = await realpath(path.join(root, relative))
      return isInside(real, root) ? real : undefined
    } catch (error) {
      if (hasCode(error, MISSING)) return undefined
      throw this.#translate(error, { action: `read "${printable(relative)}"` })
    }
  }

  /** Creates the folders of a key (never through a link that leaves the root) and opens a new temp file there. */
  async #openTemp(
    root: string,
    segments: readonly string[],
    key: string,
  ): Promise<{ folder: string; temp: string; handle: FileHandle }> {
    // A concurrent delete may prune the folder between creating it and opening the temp file in it.
    for (let attempt = 1; ; attempt++) {
      const folder = await this.#ensureFolder(root, segments, key)
      const temp = path.join(folder, tempSegmentName())
      try {
        return { folder, temp, handle: await open(temp, 'wx') }
      } catch (error) {
        if (hasCode(error, new Set(['ENOENT'])) && attempt < 5) continue
        throw this.#translate(error, { action: `write "${printable(key)}"` })
      }
    }
  }

  /** Creates the folders of a key like {@link #openTemp} and copies `localPath` to a new temp file there. */
  async #copyToTemp(options: {
    root: string
    segments: readonly string[]
    key: string
    localPath: string
  }): Promise<{ folder: string; temp: string }> {
    const { root, segments, key, localPath } = options
    for (let attempt = 1; ; attempt++) {
      const folder = await this.#ensureFolder(root, segments, key)
      const temp = path.join(folder, tempSegmentName())
      try {
        await copyFile(localPath, temp, COPY_MODE)
        return { folder, temp }
      } catch (error) {
        await unlink(temp).catch(() => undefined) // a copy that broke off midway leaves a part behind
        // The caller's file is named by the caller: its own failure comes back untranslated.
        const unreadable = await access(localPath, constants.R_OK).then(
          () => undefined,
          (cause: unknown) => (cause instanceof Error ? cause : new Error(String(cause))),
        )
        if (unreadable !== undefined) throw unreadable
        if (hasCode(error, new Set(['EISDIR'])) && !(await stat(localPath)).isFile()) throw error
        // A concurrent delete may prune the folder between creating it and copying into it.
        if (hasCode(error, new Set(['ENOENT'])) && attempt < 5) continue
        throw this.#translate(error, { action: `write "${printable(key)}"` })
      }
    }
  }

  async #ensureFolder(root: string, segments: readonly string[], key: string): Promise<string> {
    if (segments.length === 0) return root
    const relative = segments.join('/')
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const real = await realpath(path.join(root, relative))
        if (!isInside(real, root)) throw leavesRoot(key, relative)
        if (!(await stat(real)).isDirectory()) throw await this.#fileInTheWay(root, segments, key)
        return real
      } catch (error) {
        if (isWharfError(error)) throw error
        if (hasCode(error, new Set(['ENOTDIR']))) throw await this.#fileInTheWay(root, segments, key)
        if (!hasCode(error, new Set(['ENOENT']))) throw this.#translate(error, { action: `write "${printable(key)}"` })
      }
      const parent = await this.#ensureFolder(root, segments.slice(0, -1), key)
      try {
        await mkdir(path.join(parent, segments[segments.length - 1] ?? ''))
      } catch (error) {
        if (hasCode(error, new Set(['ENOTDIR']))) throw await this.#fileInTheWay(root, segments, key)
        if (!hasCode(error, new Set(['EEXIST', 'ENOENT']))) throw this.#translate(error, { action: `write "${printable(key)}"` })
      }
    }
    // realpath keeps failing though the name exists: a link that leads nowhere.
    throw new WharfError(
      'UNSAFE_PATH',
      `cannot store "${printable(key)}": "${printable(relative)}" in the datastore folder is a symbolic link that leads nowhere; remove the link or choose another key`,
    )
  }

  async #fileInTheWay(root: string, segments: readonly string[], key: string): Promise<WharfError> {
    for (let i = 1; i <= segments.length; i++) {
      const relative = segments.slice(0, i).join('/')
      const info = await statIfPresent(path.join(root, relative)).catch(() => undefined)
      if (info && !info.isDirectory()) {
        return new WharfError(
          'INVALID_ARGUMENT',
          `cannot store "${printable(key)}": "${printable(relative)}" is a file in this filesystem datastore, so it cannot also be a folder; delete it first or choose another key`,
          { details: { key: printable(key, 1024), conflict: printable(relative, 1024) } },
        )
      }
    }
    return new WharfError(
      'INVALID_ARGUMENT',
      `cannot store "${printable(key)}": a part of its path is a file in this filesystem datastore`,
    )
  }

  /**
   * Every file under `prefix` after `after`, in key byte order, reading one folder at a time, and in that
   * order what it leaves out: names no key can have (a folder once, for all under it) and links it does
   * not follow. Temp files of puts are left out silently.
   */
  async *#walk(options: {
    root: string
    prefix: string
    after: string | undefined
    signal: AbortSignal | undefined
  }): AsyncGenerator<WalkStep> {
    const { root, prefix, after, signal } = options
    const cut = prefix.lastIndexOf('/')
    const keyPrefix = prefix.slice(0, cut + 1)
    // Walk down to the prefix's folder the way a full listing would, so a link loop is cut at the same place.
    const ancestors = new Set([root])
    let start = root
    const segments = keyPrefix === '' ? [] : keyPrefix.slice(0, -1).split('/')
    for (let i = 1; i <= segments.length; i++) {
      const relative = segments.slice(0, i).join('/')
      const real = await this.#existing(root, relative)
      if (real === undefined || ancestors.has(real)) {
        // A link on the way that is not followed hides all the prefix asks for; a folder that is not there hides nothing.
        const skipped =
          after === undefined
            ? await unfollowedLink({ here: path.join(start, segments[i - 1] ?? ''), relative, root, ancestors })
            : undefined
        if (skipped) yield skipped
        return
      }
      ancestors.add(real)
      start = real
    }
    yield* this.#walkFolder({ real: start, keyPrefix, namePrefix: prefix.slice(cut + 1), after, ancestors, signal }, root)
  }

  async *#walkFolder(folder: Folder, root: string): AsyncGenerator<WalkStep> {
    folder.signal?.throwIfAborted()
    let dirents: Dirent<Buffer>[]
    try {
      dirents = await readdir(folder.real, { withFileTypes: true, encoding: 'buffer' })
    } catch (error) {
      if (hasCode(error, MISSING)) return
      throw this.#translate(error, { action: `list "${printable(folder.keyPrefix)}"` })
    }
    const namePrefix = Buffer.from(folder.namePrefix)
    const entries: Entry[] = []
    for (const dirent of dirents) {
      if (!startsWith(dirent.name, namePrefix)) continue
      const entry = await entryOf(dirent, { folder, root })
      if (entry) entries.push(entry)
    }
    const { ancestors, signal } = folder
    const walkFolder = (sub: Folder): AsyncGenerator<WalkStep> => this.#walkFolder(sub, root)
    yield* walkFolderEntries(entries, {
      keyPrefix: folder.keyPrefix,
      after: folder.after,
      // Gone or replaced by a folder since the folder was read: not a file any more.
      file: async (entry, key) => {
        const info = await statIfPresent(entry.real).catch(() => undefined)
        return info?.isFile() ? fileInfo(key, info) : undefined
      },
      folder: async function* (entry, { keyPrefix, after }) {
        // A link back up the tree would make the walk endless.
        if (ancestors.has(entry.real)) {
          const skipped = await skippedAt(path.join(folder.real, entry.name), { name: keyPrefix.slice(0, -1), reason: LINK_UP })
          if (skipped) yield skipped
          return
        }
        yield* walkFolder({
          real: entry.real,
          keyPrefix,
          namePrefix: '',
          after,
          ancestors: new Set(ancestors).add(entry.real),
          signal,
        })
      },
    })
  }

  async #receive(options: {
    body: Readable
    hasher: HashingStream
    handle: FileHandle
    signal: AbortSignal | undefined
    key: string
  }): Promise<void> {
    const { body, hasher, handle, signal } = options
    // `flush` syncs the data to disk before the stream closes the handle, and the pipeline waits for that close.
    const out = handle.createWriteStream({ flush: true })
    const feed = feedBody(body, hasher)
    try {
      await pipeline(hasher, out, signal ? { signal } : {})
    } catch (error) {
      // The caller's own failures (its body, its abort) come back as they are.
      if (feed.bodyError !== undefined || signal?.aborted || isWharfError(error)) throw error
      throw this.#translate(error, { action: `write "${printable(options.key)}"` })
    } finally {
      feed.release()
    }
  }

  /** Keeps WharfErrors, aborts and the body's own errors; turns a failure of the disk into DATASTORE_UNAVAILABLE. */
  #translate(error: unknown, options: { action: string; signal?: AbortSignal | undefined }): unknown {
    if (isWharfError(error)) return error
    if (options.signal?.aborted) return error
    if (!isSystemError(error)) return error
    if (error.code === 'ENAMETOOLONG') {
      return new WharfError(
        'INVALID_ARGUMENT',
        `cannot ${options.action}: the path is too long for this filesystem; use a shorter key`,
        {
          cause: error,
        },
      )
    }
    return this.#unavailable(`failed to ${options.action} (${error.code})`, error)
  }

  #unavailable(problem: string, cause?: unknown): WharfError {
    const reason = isSystemError(cause) ? ` [${cause.code}: ${cause.message}]` : ''
    return new WharfError('DATASTORE_UNAVAILABLE', `the filesystem datastore folder "${this.#root}" ${problem}${reason}`, {
      details: { folder: this.#root },
      ...(cause === undefined ? {} : { cause }),
    })
  }
}

/**
 * What the walk makes of one name in a folder: a file or a folder to list, one left out with the reason,
 * or nothing (a temp file of a put, or a name gone since the folder was read).
 */
async function entryOf(dirent: Dirent<Buffer>, options: { folder: Folder; root: string }): Promise<Entry | undefined> {
  const { folder, root } = options
  const raw = dirent.name
  const isFolderName = dirent.isDirectory()
  const order = isFolderName ? Buffer.concat([raw, Buffer.from('/')]) : raw
  const name = decodeName(raw)
  if (name === undefined) {
    const bytes = Buffer.concat([Buffer.from(folder.keyPrefix), raw])
    const problem = `it is not valid UTF-8; in a shell its path in the datastore folder is ${shellQuoted(bytes)}`
    const reason = isFolderName ? unusableFolderReason(problem) : problem
    const skipped = await skippedAt(Buffer.concat([Buffer.from(folder.real + path.sep), raw]), {
      name: LOSSY_UTF8.decode(bytes),
      reason,
    })
    return skipped && { kind: 'skipped', skipped, order }
  }
  // Uploads in progress (or left by a crash) are the driver's own, never the user's files.
  if (dirent.isFile() && name.startsWith(RESERVED_SEGMENT_PREFIX)) return undefined
  const here = path.join(folder.real, name)
  const key = folder.keyPrefix + name
  const reason = entryProblemOf(key, { folder: isFolderName })
  if (reason !== undefined) {
    const skipped = await skippedAt(here, { name: key, reason })
    return skipped && { kind: 'skipped', skipped, order }
  }
  if (dirent.isFile()) return { name, kind: 'file', real: here, order }
  if (isFolderName) return { name, kind: 'folder', real: here, order }
  if (!dirent.isSymbolicLink()) {
    const skipped = await skippedAt(here, { name: key, reason: notAFile(dirent) })
    return skipped && { kind: 'skipped', skipped, order }
  }
  const followed = await follow(here, root)
  if ('reason' in followed) {
    const skipped = await skippedAt(here, { name: key, reason: followed.reason })
    return skipped && { kind: 'skipped', skipped, order }
  }
  const { real, info } = followed
  if (info.isFile()) return { name, kind: 'file', real, order: raw }
  if (info.isDirectory()) return { name, kind: 'folder', real, order: Buffer.concat([raw, Buffer.from('/')]) }
  const skipped = await skippedAt(here, { name: key, reason: `${notAFile(info)}, reached through a symbolic link` })
  return skipped && { kind: 'skipped', skipped, order }
}

const LINK_UP = 'a symbolic link back to a folder that holds it, not followed (the files there are listed where they are)'

/** Where the link at `here` leads (inside the root), or why the walk does not follow it. */
async function follow(here: string, root: string): Promise<{ real: string; info: Stats } | { reason: string }> {
  let real: string
  try {
    real = await realpath(here)
  } catch (error) {
    const why = hasCode(error, new Set(['ENOENT', 'ENOTDIR']))
      ? 'leads to nothing that exists'
      : `cannot be followed (${isSystemError(error) ? error.code : String(error)})`
    return { reason: `a symbolic link that ${why}, not followed` }
  }
  if (!isInside(real, root))
    return { reason: 'a symbolic link that leads outside the datastore folder, not followed (Wharf never reads outside it)' }
  try {
    return { real, info: await stat(real) }
  } catch (error) {
    return {
      reason: `a symbolic link whose target cannot be read (${isSystemError(error) ? error.code : String(error)}), not followed`,
    }
  }
}

/**
 * The link on the way down to a listing prefix that the walk does not follow, as a name left out; undefined
 * when `here` is no link (a folder that is not there).
 */
async function unfollowedLink(options: {
  here: string
  relative: string
  root: string
  ancestors: ReadonlySet<string>
}): Promise<SkippedName | undefined> {
  const { here, relative, root, ancestors } = options
  const info = await lstat(here).catch(() => undefined)
  if (!info?.isSymbolicLink()) return undefined
  const followed = await follow(here, root)
  const reason = 'reason' in followed ? followed.reason : ancestors.has(followed.real) ? LINK_UP : undefined
  return reason === undefined ? undefined : skippedAt(here, { name: relative, reason })
}

/** A name left out of the listing, with the size and time of what is at `at` itself (never a link's target); undefined once it is gone. */
async function skippedAt(at: string | Buffer, options: { name: string; reason: string }): Promise<SkippedName | undefined> {
  const info = await lstat(at).catch(() => undefined)
  if (info === undefined) return undefined
  return { name: options.name, size: info.isFile() ? info.size : 0, modifiedAt: info.mtime.toISOString(), reason: options.reason }
}

function notAFile(info: Dirent<Buffer> | Stats): string {
  if (info.isFIFO()) return 'a named pipe (FIFO), not a file'
  if (info.isSocket()) return 'a socket, not a file'
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device, not a file'
  return 'not a file'
}

/** The bytes as a bash `$'…'` string, which names a file whatever its bytes are (for `mv` to a usable name). */
function shellQuoted(bytes: Buffer): string {
  let text = ''
  for (const byte of bytes) {
    if (byte === 0x27 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte)
    else text += `\\x${byte.toString(16).padStart(2, '0')}`
  }
  return `$'${text}'`
}

function startsWith(name: Buffer, prefix: Buffer): boolean {
  return name.length >= prefix.length && name.subarray(0, prefix.length).equals(prefix)
}

function decodeName(raw: Buffer): string | undefined {
  try {
    return UTF8.decode(raw)
  } catch {
    return undefined
  }
}

function fileInfo(key: DatastoreKey, info: Stats): FileInfo {
  return { key, size: info.size, modifiedAt: info.mtime.toISOString() }
}

async function statIfPresent(target: string): Promise<Stats | undefined> {
  try {
    return await stat(target)
  } catch (error) {
    if (hasCode(error, MISSING)) return undefined
    throw error
  }
}

async function isFolder(target: string): Promise<boolean> {
  const info = await lstat(target).catch(() => undefined)
  return info?.isDirectory() ?? false
}

/**
 * Moves the finished temp file to `target`: a rename over it, or (without `replace`) a hard link, which
 * the kernel refuses with EEXIST when any file is there, so of racing writers, even other processes, one
 * wins. Where the filesystem has no hard links (FAT, some network mounts) an exclusive copy stands in:
 * still only one writer wins, but a reader may see the copy before it is whole.
 */
async function place(options: { temp: string; target: string; key: string; replace: boolean }): Promise<void> {
  const { temp, target, key } = options
  if (options.replace) return rename(temp, target)
  try {
    try {
      await link(temp, target)
    } catch (error) {
      if (!hasCode(error, NO_LINKS)) throw error
      await copyFile(temp, target, constants.COPYFILE_EXCL)
    }
  } catch (error) {
    if (hasCode(error, new Set(['EEXIST'])) && !(await isFolder(target))) throw fileExists(key, error)
    throw error
  }
  // Stored already; a temp file left behind is hidden from listings by its reserved name.
  await unlink(temp).catch(() => undefined)
}

async function discard(handle: FileHandle | undefined, temp: string): Promise<void> {
  // The put's own error is what the caller needs; a failure to clean up must not replace it.
  await handle?.close().catch(() => undefined)
  await unlink(temp).catch(() => undefined)
}

/** fsync of a file or folder by path. */
async function syncPath(target: string): Promise<void> {
  const handle = await open(target, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close().catch(() => undefined) // the sync's outcome is what counts
  }
}

/** True when the folders are all on one filesystem (none below a mount point), so one syncfs covers them all. */
async function onOneDevice(folders: readonly string[]): Promise<boolean> {
  const devices = new Set<number>()
  for (let i = 0; i < folders.length; i += SYNC_CONCURRENCY) {
    const infos = await Promise.all(folders.slice(i, i + SYNC_CONCURRENCY).map((folder) => stat(folder).catch(() => undefined)))
    for (const info of infos) devices.add(info?.dev ?? -1)
  }
  return devices.size === 1 && !devices.has(-1)
}

/**
 * syncfs of the filesystem holding `folder`, through coreutils' `sync -f` (Node has no syncfs). False
 * when it could not be run (no such program or option), so the caller falls back to fsyncs; a sync that
 * ran and reported a write error rejects.
 */
function syncFilesystem(folder: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', folder], { timeout: 10 * 60_000 }, (error, _stdout, stderr) => {
      if (error === null) return resolve(true)
      // Did not start, or this `sync` knows no -f: use the portable way instead.
      if (typeof error.code !== 'number' || /invalid option|illegal option|unrecognized option|usage/i.test(stderr))
        return resolve(false)
      reject(
        new WharfError(
          'DATASTORE_UNAVAILABLE',
          `the filesystem datastore folder "${folder}" could not be made durable: sync -f failed [${stderr.trim() || error.message}]`,
          {
            details: { folder },
            cause: error,
          },
        ),
      )
    })
  })
}

async function syncFolder(folder: string): Promise<void> {
  // Makes the rename durable; some platforms cannot fsync a folder, and the data is already in place.
  let handle: FileHandle | undefined
  try {
    handle = await open(folder, 'r')
    await handle.sync()
  } catch {
    // see above
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

async function pruneEmptyFolders(from: string, root: string): Promise<void> {
  let folder = from
  while (folder !== root && isInside(folder, root)) {
    try {
      await rmdir(folder)
    } catch {
      return // not empty (or in use): it stays, and so do its parents
    }
    folder = path.dirname(folder)
  }
}

function sizeMismatch(declared: number, received: number): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `the file has ${received} bytes but its declared size is ${declared}; nothing was stored. Send the declared number of bytes, or leave the size out`,
    { details: { declaredSize: declared } },
  )
}

function leavesRoot(key: string, relative: string): WharfError {
  return new WharfError(
    'UNSAFE_PATH',
    `cannot store "${printable(key)}": "${printable(relative)}" is a symbolic link that leads outside the datastore folder, which Wharf never follows`,
    { details: { key: printable(key, 1024) } },
  )
}

function isAFolder(key: string, cause?: unknown): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `cannot store "${printable(key)}": it is a folder in this filesystem datastore, so it cannot also be a file; delete the files under it first or choose another key`,
    { details: { key: printable(key, 1024) }, ...(cause === undefined ? {} : { cause }) },
  )
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string'
}

function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  return isSystemError(error) && codes.has(error.code)
}
