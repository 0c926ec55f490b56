import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import { lstat, mkdir, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, isWharfError, printable } from '@wharf/contract'
import type { DatastoreDriver, FileInfo, SkippedName } from '../driver.js'
import { RESERVED_SEGMENT_PREFIX } from '../key.js'
import { failureOf, localErrorOf, remoteErrorOf, systemCodeOf, type TransferFailure } from './failure.js'
import { DEFAULT_PIECES, fetchToFile, type PieceOptions } from './fetch-to-file.js'
import { downloadPrefixOf, localPathOf } from './local-path.js'
import { md5OfFile, remoteMd5 } from './md5.js'
import { DEFAULT_CONCURRENCY, positiveWhole, type TransferOptions } from './options.js'
import { Outcomes } from './outcomes.js'
import { runPool, withAbortReason } from './pool.js'
import { ProgressTracker, type FileEnd } from './progress.js'

/** Options for {@link downloadFiles}. */
export interface DownloadOptions extends TransferOptions {
  /** The local folder to download into; created when missing. */
  targetDir: string
  /** A string prefix of the keys to download (`./` and a leading `/` are dropped); all keys when absent. */
  prefix?: string
  /** Leave the prefix's folders out of the local paths (`a/b/c.txt` with prefix `a/b` → `c.txt`). Default false: the whole key. */
  stripPrefix?: boolean
  /** How large files are split into byte ranges; the defaults were measured against Azurite. */
  pieces?: PieceOptions
  /**
   * Check every downloaded file against the MD5 the storage keeps (Azure's Content-MD5) before it is put
   * in place; default true. Off saves hashing each byte (about a third of the time of a large file on a
   * 2-core machine); sizes are still checked and unchanged files are still recognised by their MD5.
   */
  verify?: boolean
}

/** What a download did, file by file (keys in listing order). */
export interface DownloadResult {
  /** Written where no file was. */
  downloaded: string[]
  /** Written over a local file with other content (overwrite on). */
  overwritten: string[]
  /** A local file with the same size and MD5 was already there. */
  unchanged: string[]
  /** Not written: a local file with other content is there and overwrite is off. */
  skipped: string[]
  failed: TransferFailure[]
  /** Bytes written into place (downloaded and overwritten files). */
  bytes: number
}

type Outcome = 'downloaded' | 'overwritten' | 'unchanged' | 'skipped'

interface Planned {
  index: number
  info: FileInfo
  localPath: string
}

/**
 * Downloads every file whose key starts with `prefix` into `targetDir` (at `targetDir/<key>`, or without
 * the prefix's folders with `stripPrefix`), many at once, large files as parallel byte ranges. Each file
 * is written to a temp file beside its target and renamed into place only after its size (and MD5, when
 * the storage keeps one) checked out, so a failed file leaves nothing behind. A local file with the same
 * size and MD5 is left alone (`unchanged`); one with other content is replaced with `overwrite` and
 * listed as `skipped` without. A failure of one file (a key that would leave `targetDir`, a stored name
 * no local path can have such as `a/../b` or `folder/`, a file where a folder must go, a remote file that
 * changed meanwhile, a network error) is listed in `failed` and the rest go on. Rejects only when the download cannot start (bad arguments, an unsafe prefix, a target
 * that is not a folder, a storage that cannot be listed), and with the signal's reason when aborted,
 * after removing its temp files.
 */
export async function downloadFiles(driver: DatastoreDriver, options: DownloadOptions): Promise<DownloadResult> {
  return withAbortReason(options.signal, () => downloadNow(driver, options))
}

async function downloadNow(driver: DatastoreDriver, options: DownloadOptions): Promise<DownloadResult> {
  const { signal, overwrite = false, stripPrefix = false, verify = true } = options
  if (typeof options.targetDir !== 'string' || options.targetDir === '') {
    throw new WharfError('INVALID_ARGUMENT', 'a download needs the local folder to write into (option "targetDir")')
  }
  const concurrency = positiveWhole(options.concurrency, { name: 'concurrency', fallback: DEFAULT_CONCURRENCY })
  const pieces = {
    from: positiveWhole(options.pieces?.from, { name: 'pieces.from', fallback: DEFAULT_PIECES.from }),
    size: positiveWhole(options.pieces?.size, { name: 'pieces.size', fallback: DEFAULT_PIECES.size }),
    atOnce: positiveWhole(options.pieces?.atOnce, { name: 'pieces.atOnce', fallback: DEFAULT_PIECES.atOnce }),
  }
  const prefix = downloadPrefixOf(options.prefix)
  signal?.throwIfAborted()
  const targetDir = path.resolve(options.targetDir)
  const realTarget = await prepareTarget(targetDir)

  const listed: FileInfo[] = []
  const unusable: SkippedName[] = []
  const onSkipped = (skipped: SkippedName): void => void unusable.push(skipped)
  for await (const info of driver.list({ prefix, onSkipped, ...(signal ? { signal } : {}) })) listed.push(info)

  const failures: (TransferFailure & { index: number })[] = []
  const fail = (index: number, where: { key: string; localPath: string }, error: unknown): void => {
    failures.push({ index, ...failureOf(error, where) })
  }
  const planned = plan(listed, { targetDir, prefix, stripPrefix, fail })
  // Names no local path can have are failures of their own, after the listed files: never dropped unseen.
  for (const [i, skipped] of unusable.entries()) fail(listed.length + i, { key: skipped.name, localPath: targetDir }, notLocal(skipped))

  const tracker = new ProgressTracker(options.onProgress)
  tracker.start({ filesTotal: listed.length + unusable.length, bytesTotal: listed.reduce((sum, info) => sum + info.size, 0) })
  for (const failure of failures) tracker.fileDone('failed', listed[failure.index]?.size ?? 0)

  const outcomes = new Outcomes<Outcome>()
  let bytes = 0
  const folders = new Folders(realTarget)
  const context: DownloadContext = { driver, overwrite, verify, tracker, signal, folders, pieces }
  try {
    await runPool(planned, { concurrency, signal, isStopped: () => tracker.callbackError() !== undefined }, async (entry) => {
      let end: FileEnd = 'failed'
      const counted = { bytes: 0 }
      try {
        const outcome = await downloadOne(context, { entry, counted })
        outcomes.add(outcome, { index: entry.index, key: entry.info.key })
        if (outcome === 'downloaded' || outcome === 'overwritten') bytes += entry.info.size
        end = outcome === 'downloaded' || outcome === 'overwritten' ? 'sent' : outcome
      } catch (error) {
        if (signal?.aborted) throw error
        fail(entry.index, { key: entry.info.key, localPath: entry.localPath }, error)
      } finally {
        if (!signal?.aborted) tracker.fileDone(end, entry.info.size - counted.bytes)
      }
    })
  } catch (error) {
    tracker.stop()
    throw error
  }
  tracker.finish()
  return {
    downloaded: outcomes.keys('downloaded'),
    overwritten: outcomes.keys('overwritten'),
    unchanged: outcomes.keys('unchanged'),
    skipped: outcomes.keys('skipped'),
    failed: failures.sort((a, b) => a.index - b.index).map(({ index: _index, ...failure }) => failure),
    bytes,
  }
}

function notLocal(skipped: SkippedName): WharfError {
  return new WharfError(
    'UNSAFE_PATH',
    // The reason may be the name (a/../b) or what the entry is (a link out, a socket): it says which.
    `the datastore holds "${printable(skipped.name)}", which was not downloaded: ${skipped.reason}. To download it, rename or replace it in the storage`,
    { details: { key: printable(skipped.name, 1024), reason: skipped.reason } },
  )
}

/** Creates the target folder when missing; resolves with its real path. */
async function prepareTarget(targetDir: string): Promise<string> {
  try {
    await mkdir(targetDir, { recursive: true })
    const real = await realpath(targetDir)
    if ((await stat(real)).isDirectory()) return real
  } catch (error) {
    const code = systemCodeOf(error)
    if (code !== 'EEXIST' && code !== 'ENOTDIR') {
      const reason = code === 'EACCES' || code === 'EPERM' ? 'cannot be created or read (permission denied); choose another folder' : `cannot be created [${code ?? String(error)}]`
      throw new WharfError(code === 'EACCES' || code === 'EPERM' ? 'FORBIDDEN' : 'INTERNAL', `the download folder "${printable(targetDir, 400)}" ${reason}`, {
        cause: error,
      })
    }
  }
  throw new WharfError('INVALID_ARGUMENT', `the download folder "${printable(targetDir, 400)}" is a file (or inside one); give a folder`)
}

/** Local paths for the listed files; those that cannot have one are failed through `fail`. */
function plan(
  listed: readonly FileInfo[],
  options: { targetDir: string; prefix: string; stripPrefix: boolean; fail: (index: number, where: { key: string; localPath: string }, error: unknown) => void },
): Planned[] {
  const { targetDir, fail } = options
  const placed: (Planned & { relative: string })[] = []
  for (const [index, info] of listed.entries()) {
    try {
      placed.push({ index, info, ...localPathOf(info.key, options) })
    } catch (error) {
      fail(index, { key: info.key, localPath: targetDir }, error)
    }
  }
  // A local folder cannot hold a file and a folder of one name, nor two files of one name.
  const folders = new Set<string>()
  for (const { relative } of placed) {
    for (let cut = relative.indexOf('/'); cut !== -1; cut = relative.indexOf('/', cut + 1)) folders.add(relative.slice(0, cut))
  }
  const taken = new Map<string, string>()
  const planned: Planned[] = []
  for (const entry of placed) {
    const where = { key: entry.info.key, localPath: entry.localPath }
    const other = taken.get(entry.relative)
    if (folders.has(entry.relative)) {
      fail(entry.index, where, clash(`"${printable(entry.info.key)}" would be written to "${printable(entry.localPath, 400)}", which the download also needs as a folder for other keys; download it with another prefix`))
    } else if (other !== undefined) {
      fail(entry.index, where, clash(`"${printable(entry.info.key)}" and "${printable(other)}" would both be written to "${printable(entry.localPath, 400)}"; download them without stripPrefix`))
    } else {
      taken.set(entry.relative, entry.info.key)
      planned.push({ index: entry.index, info: entry.info, localPath: entry.localPath })
    }
  }
  return planned
}

interface DownloadContext {
  driver: DatastoreDriver
  overwrite: boolean
  verify: boolean
  tracker: ProgressTracker
  signal: AbortSignal | undefined
  folders: Folders
  pieces: Required<PieceOptions>
}

async function downloadOne(context: DownloadContext, file: { entry: Planned; counted: { bytes: number } }): Promise<Outcome> {
  const { driver, signal } = context
  const { info, localPath } = file.entry
  const folder = await context.folders.ensure(path.dirname(localPath))
  const existing = await localSizeOf(localPath, info.key)
  let state: 'new' | 'same' | 'differs' | 'same-size' = 'new'
  let localMd5: string | undefined
  if (existing !== undefined) {
    state = 'differs'
    if (existing === info.size) {
      localMd5 = await md5OfLocal(localPath, signal)
      if (info.contentMd5 !== undefined) state = localMd5 === info.contentMd5 ? 'same' : 'differs'
      else if (!context.overwrite) state = localMd5 === (await remoteMd5Of(driver, info, signal)) ? 'same' : 'differs'
      // With overwrite and no stored MD5, the download itself tells: one read of the remote either way.
      else state = 'same-size'
    }
  }
  if (state === 'same') return 'unchanged'
  if (state === 'differs' && !context.overwrite) return 'skipped'

  const temp = path.join(folder, `${RESERVED_SEGMENT_PREFIX}${randomBytes(9).toString('hex')}`)
  const checkMd5 = context.verify && info.contentMd5 !== undefined
  // The driver's own copy, when it has one and there is no MD5 to check on the way.
  if (driver.getFile !== undefined && !checkMd5 && state !== 'same-size') {
    await copyIntoPlace({ getFile: driver.getFile.bind(driver), info, temp, localPath, signal })
    file.counted.bytes += info.size
    context.tracker.addBytes(info.size)
    return state === 'new' ? 'downloaded' : 'overwritten'
  }
  let handle: FileHandle | undefined
  let placed = false
  try {
    try {
      handle = await open(temp, 'wx')
    } catch (error) {
      throw localErrorOf(error, { localPath, action: 'write' })
    }
    const md5 = await fetchToFile({
      driver,
      key: info.key,
      size: info.size,
      handle,
      tempPath: temp,
      localPath,
      md5: checkMd5 || state === 'same-size',
      pieces: context.pieces,
      signal,
      onBytes: (count) => {
        file.counted.bytes += count
        context.tracker.addBytes(count)
      },
    })
    if (checkMd5 && md5 !== info.contentMd5) throw corrupted(info)
    await handle.close()
    handle = undefined
    if (state === 'same-size' && md5 === localMd5) return 'unchanged'
    try {
      await rename(temp, localPath)
    } catch (error) {
      throw localErrorOf(error, { localPath, action: 'write' })
    }
    placed = true
    return state === 'new' ? 'downloaded' : 'overwritten'
  } finally {
    await handle?.close().catch(() => undefined)
    // The outcome (or the error) is what the caller needs; the temp file goes either way.
    if (!placed) await unlink(temp).catch(() => undefined)
  }
}

/** Copies the stored file to `temp` through the driver, checks its size against the listing, and renames it into place. */
async function copyIntoPlace(options: {
  getFile: NonNullable<DatastoreDriver['getFile']>
  info: FileInfo
  temp: string
  localPath: string
  signal: AbortSignal | undefined
}): Promise<void> {
  const { info, temp, localPath, signal } = options
  let placed = false
  try {
    let size: number
    try {
      size = (await options.getFile(info.key, temp, signal ? { signal } : {})).size
    } catch (error) {
      if (signal?.aborted || isWharfError(error)) throw error
      throw localErrorOf(error, { localPath, action: 'write' }) // the driver hands back the target's failures untranslated
    }
    if (size !== info.size) throw changedSize(info, size)
    signal?.throwIfAborted()
    try {
      await rename(temp, localPath)
    } catch (error) {
      throw localErrorOf(error, { localPath, action: 'write' })
    }
    placed = true
  } finally {
    // The outcome (or the error) is what the caller needs; the temp file goes either way.
    if (!placed) await unlink(temp).catch(() => undefined)
  }
}

/** The size of the local file at `localPath`, undefined when there is none; throws when a folder (or other non-file) is there. */
async function localSizeOf(localPath: string, key: string): Promise<number | undefined> {
  let info: Stats
  try {
    info = await lstat(localPath)
    if (info.isSymbolicLink()) info = await stat(localPath)
  } catch (error) {
    if (systemCodeOf(error) === 'ENOENT') return undefined // nothing there (or a link that leads nowhere, which the rename replaces)
    throw localErrorOf(error, { localPath, action: 'write' })
  }
  if (info.isFile()) return info.size
  throw clash(`"${printable(key)}" cannot be written to "${printable(localPath, 400)}": a ${info.isDirectory() ? 'folder' : 'non-file'} is there; move it or download into another folder`)
}

async function md5OfLocal(localPath: string, signal: AbortSignal | undefined): Promise<string> {
  let handle: FileHandle | undefined
  try {
    handle = await open(localPath, 'r')
    return await md5OfFile(handle, { signal })
  } catch (error) {
    throw signal?.aborted ? error : localErrorOf(error, { localPath, action: 'read' })
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

async function remoteMd5Of(driver: DatastoreDriver, info: FileInfo, signal: AbortSignal | undefined): Promise<string> {
  try {
    return await remoteMd5(driver, info, signal)
  } catch (error) {
    throw signal?.aborted ? error : remoteErrorOf(error, { key: info.key, action: 'read' })
  }
}

/**
 * Folders below the target, created on first use. A folder whose real path leaves the target (through
 * a symbolic link) is refused before anything is created through it.
 */
class Folders {
  readonly #realTarget: string
  readonly #ready = new Map<string, Promise<string>>()

  constructor(realTarget: string) {
    this.#realTarget = realTarget
  }

  /** The folder's path, once it exists inside the target; throws UNSAFE_PATH or the local error. */
  async ensure(folder: string): Promise<string> {
    let ready = this.#ready.get(folder)
    if (ready === undefined) {
      ready = this.#create(folder)
      this.#ready.set(folder, ready)
    }
    return ready
  }

  async #create(folder: string): Promise<string> {
    // The deepest part that exists already decides where the rest would be created.
    let existing = folder
    let real: string | undefined
    for (;;) {
      try {
        real = await realpath(existing)
        break
      } catch (error) {
        const parent = path.dirname(existing)
        if (systemCodeOf(error) !== 'ENOENT' || parent === existing) throw localErrorOf(error, { localPath: folder, action: 'write' })
        existing = parent
      }
    }
    if (real !== this.#realTarget && !real.startsWith(this.#realTarget.endsWith(path.sep) ? this.#realTarget : this.#realTarget + path.sep)) {
      throw new WharfError('UNSAFE_PATH', `the local folder "${printable(existing, 400)}" leads outside the download folder (a symbolic link); nothing was written through it`, {
        details: { folder: printable(existing, 1024) },
      })
    }
    if (!(await stat(real).catch(() => undefined))?.isDirectory()) {
      throw clash(`the local path "${printable(existing, 400)}" is a file, so it cannot be a folder for the files downloaded below it; move it or download into another folder`)
    }
    if (existing !== folder) {
      try {
        await mkdir(folder, { recursive: true })
      } catch (error) {
        throw localErrorOf(error, { localPath: folder, action: 'write' })
      }
    }
    return folder
  }
}

function clash(message: string): WharfError {
  return new WharfError('INVALID_ARGUMENT', message)
}

function changedSize(info: FileInfo, seen: number): WharfError {
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `"${printable(info.key)}" changed while it was downloaded: the listing said ${info.size} bytes, the storage had ${seen}; nothing was kept, run the download again`,
    { details: { key: printable(info.key, 1024), size: info.size } },
  )
}

function corrupted(info: FileInfo): WharfError {
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `the content of "${printable(info.key)}" does not match its stored MD5 (it changed while it was downloaded, or the stored copy is damaged); nothing was kept, run the download again`,
    { details: { key: printable(info.key, 1024) } },
  )
}
