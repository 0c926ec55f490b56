import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import { lstat, mkdir, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, isWharfError, printable } from '@wharf/contract'
import type { DatastoreDriver, FileInfo, GetFileOptions, SkippedName } from '../driver.js'
import { RESERVED_SEGMENT_PREFIX } from '../key.js'
import { failureOf, localErrorOf, remoteErrorOf, systemCodeOf, type TransferFailure } from './failure.js'
import { DEFAULT_PIECES, fetchToFile, type OpenRemote, type PieceOptions } from './fetch-to-file.js'
import { downloadPrefixOf, localPathOf } from './local-path.js'
import { digestOfFile, digestOfStream, type DigestAlgorithm, type ExpectedDigest } from './md5.js'
import { DEFAULT_CONCURRENCY, positiveWhole, type TransferOptions } from './options.js'
import { Outcomes } from './outcomes.js'
import { runPool, withAbortReason } from './pool.js'
import { ProgressTracker, type FileEnd } from './progress.js'

/** Options for {@link downloadFiles} and {@link downloadRemoteFiles}. */
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
   * Check every downloaded file against the digest the storage keeps (Azure's Content-MD5, an artifact's
   * sha256) while it streams, before it is put in place; default true. Off saves hashing each byte; sizes
   * are still checked and unchanged files are still recognised by their digest.
   */
  verify?: boolean
}

/** What a download did, file by file (keys in listing order). */
export interface DownloadResult {
  /** Written where no file was. */
  downloaded: string[]
  /** Written over a local file with other content (overwrite on). */
  overwritten: string[]
  /** A local file with the same size and digest was already there. */
  unchanged: string[]
  /** Not written: a local file with other content is there and overwrite is off. */
  skipped: string[]
  failed: TransferFailure[]
  /** Bytes written into place (downloaded and overwritten files). */
  bytes: number
}

/**
 * One file to download, from a datastore listing or from a list the caller has (a run's artifacts, an
 * asset's files): its name, size and digest, and how to read its bytes.
 */
export interface RemoteFile {
  /** How results and messages name it: a datastore key or an artifact path, which must be a normalised key. */
  key: string
  size: number
  /** The digest the bytes must have: checked as they stream, and what tells that a local file is identical. */
  digest?: ExpectedDigest | undefined
  /** Reads the bytes, or a byte range of them (ranges let a large file come in parallel pieces). */
  open: OpenRemote
  /** Where it goes below the target folder, `/`-separated, instead of where its key puts it. */
  relative?: string
  /** Copies the whole file to a local path by the storage's own means; used when there is no digest to check. */
  copyTo?: (targetPath: string, options: GetFileOptions) => Promise<{ size: number }>
}

type Outcome = 'downloaded' | 'overwritten' | 'unchanged' | 'skipped'

interface Planned {
  index: number
  file: RemoteFile
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
  return withAbortReason(options.signal, async () => {
    const start = await startDownload(options)
    const listed: FileInfo[] = []
    const unusable: SkippedName[] = []
    const onSkipped = (skipped: SkippedName): void => void unusable.push(skipped)
    const { signal } = options
    for await (const info of driver.list({ prefix: start.prefix, onSkipped, ...(signal ? { signal } : {}) })) listed.push(info)
    return downloadAll(
      listed.map((info) => remoteFileOf(driver, info)),
      { ...start, unusable },
    )
  })
}

/**
 * Downloads the given files, those whose key starts with `prefix`, exactly as {@link downloadFiles}
 * downloads a listing: one overwrite rule, the same checks, the same engine. This is how a run's
 * artifacts and an asset's files (sha256) come down.
 */
export async function downloadRemoteFiles(files: readonly RemoteFile[], options: DownloadOptions): Promise<DownloadResult> {
  return withAbortReason(options.signal, async () => {
    const start = await startDownload(options)
    return downloadAll(
      files.filter((file) => file.key.startsWith(start.prefix)),
      { ...start, unusable: [] },
    )
  })
}

/** A listed datastore file as a file to download: its Content-MD5 (when kept) is its digest. */
function remoteFileOf(driver: DatastoreDriver, info: FileInfo): RemoteFile {
  return {
    key: info.key,
    size: info.size,
    digest: info.contentMd5 === undefined ? undefined : { algorithm: 'md5', value: info.contentMd5 },
    open: (get) => driver.get(info.key, get),
    ...(driver.getFile === undefined
      ? {}
      : { copyTo: (target: string, get: GetFileOptions) => driver.getFile!(info.key, target, get) }),
  }
}

interface Started {
  options: DownloadOptions
  settings: Settings
  prefix: string
  targetDir: string
  realTarget: string
}

interface Settings {
  overwrite: boolean
  verify: boolean
  stripPrefix: boolean
  concurrency: number
  pieces: Required<PieceOptions>
}

/** Checks the options and prepares the target folder; throws when the download cannot start. */
async function startDownload(options: DownloadOptions): Promise<Started> {
  const { overwrite = false, stripPrefix = false, verify = true } = options
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
  options.signal?.throwIfAborted()
  const targetDir = path.resolve(options.targetDir)
  const realTarget = await prepareTarget(targetDir)
  return { options, settings: { overwrite, verify, stripPrefix, concurrency, pieces }, prefix, targetDir, realTarget }
}

async function downloadAll(
  files: readonly RemoteFile[],
  start: Started & { unusable: readonly SkippedName[] },
): Promise<DownloadResult> {
  const { options, settings, prefix, targetDir, realTarget, unusable } = start
  const { signal } = options
  const failures: (TransferFailure & { index: number })[] = []
  const fail = (index: number, where: { key: string; localPath: string }, error: unknown): void => {
    failures.push({ index, ...failureOf(error, where) })
  }
  const planned = plan(files, { targetDir, prefix, stripPrefix: settings.stripPrefix, fail })
  // Names no local path can have are failures of their own, after the listed files: never dropped unseen.
  for (const [i, skipped] of unusable.entries())
    fail(files.length + i, { key: skipped.name, localPath: targetDir }, notLocal(skipped))

  const tracker = new ProgressTracker(options.onProgress)
  tracker.start({ filesTotal: files.length + unusable.length, bytesTotal: files.reduce((sum, file) => sum + file.size, 0) })
  for (const failure of failures) tracker.fileDone('failed', files[failure.index]?.size ?? 0)

  const outcomes = new Outcomes<Outcome>()
  let bytes = 0
  const folders = new Folders(realTarget)
  const context: DownloadContext = { ...settings, tracker, signal, folders }
  try {
    await runPool(
      planned,
      { concurrency: settings.concurrency, signal, isStopped: () => tracker.callbackError() !== undefined },
      async (entry) => {
        let end: FileEnd = 'failed'
        const counted = { bytes: 0 }
        try {
          const outcome = await downloadOne(context, { entry, counted })
          outcomes.add(outcome, { index: entry.index, key: entry.file.key })
          if (outcome === 'downloaded' || outcome === 'overwritten') bytes += entry.file.size
          end = outcome === 'downloaded' || outcome === 'overwritten' ? 'sent' : outcome
        } catch (error) {
          if (signal?.aborted) throw error
          fail(entry.index, { key: entry.file.key, localPath: entry.localPath }, error)
        } finally {
          if (!signal?.aborted) tracker.fileDone(end, entry.file.size - counted.bytes)
        }
      },
    )
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
      const reason =
        code === 'EACCES' || code === 'EPERM'
          ? 'cannot be created or read (permission denied); choose another folder'
          : `cannot be created [${code ?? String(error)}]`
      throw new WharfError(
        code === 'EACCES' || code === 'EPERM' ? 'FORBIDDEN' : 'INTERNAL',
        `the download folder "${printable(targetDir, 400)}" ${reason}`,
        {
          cause: error,
        },
      )
    }
  }
  throw new WharfError(
    'INVALID_ARGUMENT',
    `the download folder "${printable(targetDir, 400)}" is a file (or inside one); give a folder`,
  )
}

/** Local paths for the files; those that cannot have one are failed through `fail`. */
function plan(
  files: readonly RemoteFile[],
  options: {
    targetDir: string
    prefix: string
    stripPrefix: boolean
    fail: (index: number, where: { key: string; localPath: string }, error: unknown) => void
  },
): Planned[] {
  const { targetDir, fail } = options
  const placed: (Planned & { relative: string })[] = []
  for (const [index, file] of files.entries()) {
    try {
      placed.push({ index, file, ...localPathOf(file.key, { ...options, relative: file.relative }) })
    } catch (error) {
      fail(index, { key: file.key, localPath: targetDir }, error)
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
    const { key } = entry.file
    const where = { key, localPath: entry.localPath }
    const other = taken.get(entry.relative)
    if (folders.has(entry.relative)) {
      fail(
        entry.index,
        where,
        clash(
          `"${printable(key)}" would be written to "${printable(entry.localPath, 400)}", which the download also needs as a folder for other keys; download it with another prefix`,
        ),
      )
    } else if (other !== undefined) {
      fail(
        entry.index,
        where,
        clash(
          `"${printable(key)}" and "${printable(other)}" would both be written to "${printable(entry.localPath, 400)}"; download them without stripPrefix`,
        ),
      )
    } else {
      taken.set(entry.relative, key)
      planned.push({ index: entry.index, file: entry.file, localPath: entry.localPath })
    }
  }
  return planned
}

interface DownloadContext extends Settings {
  tracker: ProgressTracker
  signal: AbortSignal | undefined
  folders: Folders
}

/**
 * The one overwrite rule: no local file → downloaded; one with the same size and digest → unchanged (not
 * fetched); one with other content → replaced with `overwrite` (overwritten), else left alone (skipped).
 */
async function downloadOne(context: DownloadContext, task: { entry: Planned; counted: { bytes: number } }): Promise<Outcome> {
  const { signal } = context
  const { file, localPath } = task.entry
  const algorithm: DigestAlgorithm = file.digest?.algorithm ?? 'md5'
  const folder = await context.folders.ensure(path.dirname(localPath))
  const existing = await localSizeOf(localPath, file.key)
  let state: 'new' | 'same' | 'differs' | 'same-size' = 'new'
  let localDigest: string | undefined
  if (existing !== undefined) {
    state = 'differs'
    if (existing === file.size) {
      localDigest = await digestOfLocal(localPath, { algorithm, signal })
      if (file.digest !== undefined) state = localDigest === file.digest.value ? 'same' : 'differs'
      else if (!context.overwrite)
        state = localDigest === (await remoteDigestOf(file, { algorithm, signal })) ? 'same' : 'differs'
      // With overwrite and no stored digest, the download itself tells: one read of the remote either way.
      else state = 'same-size'
    }
  }
  if (state === 'same') return 'unchanged'
  if (state === 'differs' && !context.overwrite) return 'skipped'

  const temp = path.join(folder, `${RESERVED_SEGMENT_PREFIX}${randomBytes(9).toString('hex')}`)
  const check = context.verify ? file.digest : undefined
  // The storage's own copy, when it has one and there is no digest to check on the way.
  if (file.copyTo !== undefined && check === undefined && state !== 'same-size') {
    await copyIntoPlace({ copyTo: file.copyTo, file, temp, localPath, signal })
    task.counted.bytes += file.size
    context.tracker.addBytes(file.size)
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
    const digest = await fetchToFile({
      open: file.open,
      key: file.key,
      size: file.size,
      handle,
      tempPath: temp,
      localPath,
      digest: check !== undefined || state === 'same-size' ? algorithm : undefined,
      pieces: context.pieces,
      signal,
      onBytes: (count) => {
        task.counted.bytes += count
        context.tracker.addBytes(count)
      },
    })
    if (check !== undefined && digest !== check.value) throw corrupted(file.key, check, digest)
    await handle.close()
    handle = undefined
    if (state === 'same-size' && digest === localDigest) return 'unchanged'
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

/** Copies the stored file to `temp` by the storage's own means, checks its size, and renames it into place. */
async function copyIntoPlace(options: {
  copyTo: NonNullable<RemoteFile['copyTo']>
  file: RemoteFile
  temp: string
  localPath: string
  signal: AbortSignal | undefined
}): Promise<void> {
  const { file, temp, localPath, signal } = options
  let placed = false
  try {
    let size: number
    try {
      size = (await options.copyTo(temp, signal ? { signal } : {})).size
    } catch (error) {
      if (signal?.aborted || isWharfError(error)) throw error
      throw localErrorOf(error, { localPath, action: 'write' }) // the driver hands back the target's failures untranslated
    }
    if (size !== file.size) throw changedSize(file, size)
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
  throw clash(
    `"${printable(key)}" cannot be written to "${printable(localPath, 400)}": a ${info.isDirectory() ? 'folder' : 'non-file'} is there; move it or download into another folder`,
  )
}

async function digestOfLocal(
  localPath: string,
  options: { algorithm: DigestAlgorithm; signal: AbortSignal | undefined },
): Promise<string> {
  let handle: FileHandle | undefined
  try {
    handle = await open(localPath, 'r')
    return await digestOfFile(handle, options)
  } catch (error) {
    throw options.signal?.aborted ? error : localErrorOf(error, { localPath, action: 'read' })
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

/** The digest of the stored bytes, read whole (for a storage that keeps none). */
async function remoteDigestOf(
  file: RemoteFile,
  options: { algorithm: DigestAlgorithm; signal: AbortSignal | undefined },
): Promise<string> {
  const { signal } = options
  try {
    const body = await file.open(signal ? { signal } : {})
    try {
      return await digestOfStream(body, options.algorithm)
    } finally {
      body.destroy()
    }
  } catch (error) {
    throw signal?.aborted ? error : remoteErrorOf(error, { key: file.key, action: 'read' })
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
        if (systemCodeOf(error) !== 'ENOENT' || parent === existing)
          throw localErrorOf(error, { localPath: folder, action: 'write' })
        existing = parent
      }
    }
    if (
      real !== this.#realTarget &&
      !real.startsWith(this.#realTarget.endsWith(path.sep) ? this.#realTarget : this.#realTarget + path.sep)
    ) {
      throw new WharfError(
        'UNSAFE_PATH',
        `the local folder "${printable(existing, 400)}" leads outside the download folder (a symbolic link); nothing was written through it`,
        {
          details: { folder: printable(existing, 1024) },
        },
      )
    }
    if (!(await stat(real).catch(() => undefined))?.isDirectory()) {
      throw clash(
        `the local path "${printable(existing, 400)}" is a file, so it cannot be a folder for the files downloaded below it; move it or download into another folder`,
      )
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

function changedSize(file: RemoteFile, seen: number): WharfError {
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `"${printable(file.key)}" changed while it was downloaded: the listing said ${file.size} bytes, the storage had ${seen}; nothing was kept, run the download again`,
    { details: { key: printable(file.key, 1024), size: file.size } },
  )
}

function corrupted(key: string, expected: ExpectedDigest, seen: string | undefined): WharfError {
  const name = expected.algorithm === 'md5' ? 'MD5' : 'sha256'
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `"${printable(key)}" arrived damaged: the content does not match its stored ${name} (${name} ${seen ?? 'unknown'}, expected ${expected.value}; ` +
      'it changed while it was downloaded, or the stored copy is damaged); nothing was kept, run the download again',
    { details: { key: printable(key, 1024) } },
  )
}
