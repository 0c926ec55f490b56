import { open, stat, type FileHandle } from 'node:fs/promises'
import { Transform } from 'node:stream'
import { WharfError, isWharfError, printable } from '@wharf/contract'
import type { DatastoreDriver, FileInfo } from '../driver.js'
import { toDatastoreKey, type DatastoreKey } from '../key.js'
import { failureOf, localErrorOf, remoteErrorOf, type TransferFailure } from './failure.js'
import { md5OfFile, remoteMd5 } from './md5.js'
import { DEFAULT_CONCURRENCY, positiveWhole, type TransferOptions } from './options.js'
import { Outcomes } from './outcomes.js'
import type { UploadItem } from './plan-keys.js'
import { runPool, withAbortReason } from './pool.js'
import { ProgressTracker, type FileEnd } from './progress.js'
import { learnRemote, type RemoteIndex } from './remote-index.js'

/** Options for {@link uploadFiles}. */
export type UploadOptions = TransferOptions

/** What an upload did, file by file (keys in the order of the items). */
export interface UploadResult {
  /** Sent to keys that held nothing. */
  uploaded: string[]
  /** Sent over a stored file with other content (overwrite on). */
  overwritten: string[]
  /** Already stored with the same size and MD5, so not sent again (how an interrupted upload resumes). */
  unchanged: string[]
  /** Not sent: stored with other content and overwrite off. */
  skipped: string[]
  failed: TransferFailure[]
  /** Bytes sent (uploaded and overwritten files). */
  bytes: number
}

/** Files stat'ed at the same time while planning. */
const PLAN_CONCURRENCY = 64
/** Bytes read from a local file at a time while it is sent. */
const READ_SIZE = 256 * 1024

interface Planned {
  index: number
  item: UploadItem
  key: DatastoreKey
  size: number
}

type Outcome = 'uploaded' | 'overwritten' | 'unchanged' | 'skipped'

/**
 * Uploads local files to their keys, many at once, each as one stream through `driver.put`. A key that
 * holds the same size and MD5 is left alone (`unchanged`); one with other content is replaced with
 * `overwrite` and listed as `skipped` without. A failure of one file (unreadable, vanished, a network
 * error) is listed in `failed` and the rest go on. Rejects only when the upload cannot start: bad
 * arguments (INVALID_ARGUMENT, e.g. two files for one key), a storage that cannot be listed or reached;
 * and with the signal's reason when aborted. Safe to run again: what was stored is then `unchanged`.
 * A driver with `putFile` stores each file itself (the filesystem driver: a kernel copy, no streaming);
 * with `syncKeys` too, the files are made durable in one step before this resolves (it rejects with
 * DATASTORE_UNAVAILABLE when the storage cannot confirm that), files found unchanged included.
 */
export async function uploadFiles(
  driver: DatastoreDriver,
  items: readonly UploadItem[],
  options: UploadOptions = {},
): Promise<UploadResult> {
  return withAbortReason(options.signal, () => uploadNow(driver, items, options))
}

async function uploadNow(driver: DatastoreDriver, items: readonly UploadItem[], options: UploadOptions): Promise<UploadResult> {
  const { signal, overwrite = false } = options
  const concurrency = positiveWhole(options.concurrency, { name: 'concurrency', fallback: DEFAULT_CONCURRENCY })
  checkItems(items)
  signal?.throwIfAborted()
  const failures: (TransferFailure & { index: number })[] = []
  const fail = (index: number, item: UploadItem, error: unknown): void => {
    failures.push({ index, ...failureOf(error, { key: item.key, localPath: item.localPath }) })
  }

  const keyed: Omit<Planned, 'size'>[] = []
  const byKey = new Map<string, UploadItem>()
  for (const [index, item] of items.entries()) {
    let key: DatastoreKey
    try {
      key = toDatastoreKey(item.key)
    } catch (error) {
      fail(index, item, error)
      continue
    }
    const other = byKey.get(key)
    if (other !== undefined) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `"${printable(other.localPath, 300)}" and "${printable(item.localPath, 300)}" would both be uploaded to "${printable(key)}"; give each file its own key`,
        { details: { key: printable(key, 1024) } },
      )
    }
    byKey.set(key, item)
    keyed.push({ index, item, key })
  }

  const sizes = new Map<number, number>()
  await runPool(keyed, { concurrency: PLAN_CONCURRENCY, signal }, async ({ index, item }) => {
    if (item.size !== undefined) {
      sizes.set(index, item.size)
      return
    }
    try {
      const info = await stat(item.localPath)
      if (!info.isFile()) throw notAFile(item.localPath)
      sizes.set(index, info.size)
    } catch (error) {
      fail(index, item, localErrorOf(error, { localPath: item.localPath, action: 'read' }))
    }
  })
  const planned: Planned[] = keyed.flatMap((entry) => {
    const size = sizes.get(entry.index)
    return size === undefined ? [] : [{ ...entry, size }]
  })

  const remote = await learnRemote(
    driver,
    planned.map((entry) => entry.key),
    { signal },
  )
  const tracker = new ProgressTracker(options.onProgress)
  tracker.start({ filesTotal: items.length, bytesTotal: planned.reduce((sum, entry) => sum + entry.size, 0) })
  for (let i = 0; i < failures.length; i++) tracker.fileDone('failed', 0)

  const outcomes = new Outcomes<Outcome>()
  let bytes = 0
  // Keys whose durability the driver left to one batched step at the end (see DatastoreDriver.syncKeys).
  const toSync: DatastoreKey[] = []
  const context: UploadContext = {
    driver,
    remote,
    overwrite,
    tracker,
    signal,
    deferSync: driver.putFile !== undefined && driver.syncKeys !== undefined,
  }
  try {
    await runPool(planned, { concurrency, signal, isStopped: () => tracker.callbackError() !== undefined }, async (entry) => {
      let end: FileEnd = 'failed'
      const counted = { bytes: 0 }
      try {
        const { outcome, sent } = await uploadOne(context, { entry, counted })
        // Files found unchanged may be the unsynced work of an interrupted run: they are made durable too.
        if (context.deferSync && outcome !== 'skipped') toSync.push(entry.key)
        outcomes.add(outcome, entry)
        bytes += sent
        end = outcome === 'uploaded' || outcome === 'overwritten' ? 'sent' : outcome
      } catch (error) {
        if (signal?.aborted) throw error
        fail(entry.index, entry.item, error)
      } finally {
        if (!signal?.aborted) tracker.fileDone(end, entry.size - counted.bytes)
      }
    })
    await driver.syncKeys?.(toSync, signal ? { signal } : {})
  } catch (error) {
    tracker.stop()
    // What was stored before the abort is made durable all the same (a later run finds it unchanged).
    if (signal?.aborted) await driver.syncKeys?.(toSync).catch(() => undefined)
    throw error
  }
  tracker.finish()
  return {
    uploaded: outcomes.keys('uploaded'),
    overwritten: outcomes.keys('overwritten'),
    unchanged: outcomes.keys('unchanged'),
    skipped: outcomes.keys('skipped'),
    failed: failures.sort((a, b) => a.index - b.index).map(({ index: _index, ...failure }) => failure),
    bytes,
  }
}

interface UploadContext {
  driver: DatastoreDriver
  remote: RemoteIndex
  overwrite: boolean
  tracker: ProgressTracker
  signal: AbortSignal | undefined
  /** Stores through `driver.putFile` with `deferSync`, and the caller syncs the keys at the end. */
  deferSync: boolean
}

/** How one file ended, and how many bytes were sent for it. */
async function uploadOne(
  context: UploadContext,
  file: { entry: Planned; counted: { bytes: number } },
): Promise<{ outcome: Outcome; sent: number }> {
  const { driver, remote, signal } = context
  const { key, item } = file.entry
  const localPath = item.localPath
  let handle: FileHandle | undefined
  try {
    let stored: FileInfo | undefined
    try {
      stored = await remote.lookup(key)
    } catch (error) {
      throw signal?.aborted ? error : remoteErrorOf(error, { key, action: 'read' })
    }
    // A new key with a driver that copies local files itself needs no handle: the planned size is checked by the copy.
    let size = file.entry.size
    if (stored !== undefined || driver.putFile === undefined) {
      try {
        handle = await open(localPath, 'r')
        const info = await handle.stat()
        if (!info.isFile()) throw notAFile(localPath)
        size = info.size
      } catch (error) {
        throw localErrorOf(error, { localPath, action: 'read' })
      }
    }
    const state =
      stored === undefined || handle === undefined ? 'new' : await compare({ driver, handle, stored, size, localPath, signal })
    if (state === 'same') return { outcome: 'unchanged', sent: 0 }
    if (state === 'differs' && !context.overwrite) return { outcome: 'skipped', sent: 0 }
    // Without overwrite a new key is written only if it is still free when the bytes land: another
    // writer (a second process, another replica's client) may have created it since the lookup.
    const ifNotExists = state === 'new' && !context.overwrite
    try {
      if (driver.putFile !== undefined) {
        await sendFile({ ...context, putFile: driver.putFile.bind(driver), key, localPath, size, ifNotExists })
        file.counted.bytes += size
        context.tracker.addBytes(size)
      } else if (handle !== undefined) {
        await send({ ...context, handle, key, localPath, size, counted: file.counted, ifNotExists })
      }
    } catch (error) {
      if (ifNotExists && isWharfError(error, 'FILE_EXISTS')) return { outcome: 'skipped', sent: 0 }
      throw error
    }
    return { outcome: state === 'new' ? 'uploaded' : 'overwritten', sent: size }
  } finally {
    await handle?.close().catch(() => undefined) // the transfer's own outcome is what matters
  }
}

async function compare(options: {
  driver: DatastoreDriver
  handle: FileHandle
  stored: FileInfo
  size: number
  localPath: string
  signal: AbortSignal | undefined
}): Promise<'same' | 'differs'> {
  const { stored, signal, localPath } = options
  if (stored.size !== options.size) return 'differs'
  let local: string
  try {
    local = await md5OfFile(options.handle, { signal })
  } catch (error) {
    throw signal?.aborted ? error : localErrorOf(error, { localPath, action: 'read' })
  }
  let remote: string
  try {
    remote = await remoteMd5(options.driver, stored, signal)
  } catch (error) {
    throw signal?.aborted ? error : remoteErrorOf(error, { key: stored.key, action: 'read' })
  }
  return local === remote ? 'same' : 'differs'
}

async function send(
  options: UploadContext & {
    handle: FileHandle
    key: DatastoreKey
    localPath: string
    size: number
    counted: { bytes: number }
    ifNotExists: boolean
  },
): Promise<void> {
  const { handle, key, localPath, size, signal, tracker, counted } = options
  const source = handle.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_SIZE })
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      counted.bytes += chunk.length
      tracker.addBytes(chunk.length)
      done(null, chunk)
    },
  })
  // A failure to read is the local file's, and is named as such before it reaches the driver.
  source.once('error', (error) => body.destroy(localErrorOf(error, { localPath, action: 'read' })))
  source.pipe(body)
  try {
    await options.driver.put(key, body, { size, ifNotExists: options.ifNotExists, ...(signal ? { signal } : {}) })
  } catch (error) {
    if (signal?.aborted) throw error
    if (isWharfError(error, 'INVALID_ARGUMENT') && (await sizeNow(handle)) !== size) throw changedLocally(localPath)
    throw remoteErrorOf(error, { key, action: 'write' })
  } finally {
    source.unpipe(body)
    source.destroy()
    body.destroy()
  }
}

/** Stores the file through the driver's own copy of local files; errors named as {@link send} names them. */
async function sendFile(
  options: UploadContext & {
    putFile: NonNullable<DatastoreDriver['putFile']>
    key: DatastoreKey
    localPath: string
    size: number
    ifNotExists: boolean
  },
): Promise<void> {
  const { key, localPath, size, signal } = options
  try {
    await options.putFile(key, localPath, {
      size,
      deferSync: options.deferSync,
      ifNotExists: options.ifNotExists,
      ...(signal ? { signal } : {}),
    })
  } catch (error) {
    if (signal?.aborted) throw error
    // The driver hands back a failure to read the local file as the system error it is.
    if (!isWharfError(error)) throw localErrorOf(error, { localPath, action: 'read' })
    if (
      isWharfError(error, 'INVALID_ARGUMENT') &&
      (await stat(localPath).then(
        (info) => info.size,
        () => undefined,
      )) !== size
    )
      throw changedLocally(localPath)
    throw remoteErrorOf(error, { key, action: 'write' })
  }
}

async function sizeNow(handle: FileHandle): Promise<number | undefined> {
  return handle.stat().then(
    (info) => info.size,
    () => undefined,
  )
}

function checkItems(items: readonly UploadItem[]): void {
  if (!Array.isArray(items)) throw new WharfError('INVALID_ARGUMENT', 'the files to upload must be a list of { localPath, key }')
  for (const item of items as unknown[]) {
    const { localPath, key } = (item ?? {}) as Partial<UploadItem>
    if (typeof localPath !== 'string' || localPath === '' || typeof key !== 'string') {
      throw new WharfError(
        'INVALID_ARGUMENT',
        'each file to upload needs a non-empty "localPath" and a "key"; planUploadKeys makes them from local paths',
      )
    }
  }
}

function notAFile(localPath: string): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `the local path "${printable(localPath, 400)}" is not a file (a folder?); give the files inside it instead`,
    {
      details: { localPath: printable(localPath, 1024) },
    },
  )
}

function changedLocally(localPath: string): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `the local file "${printable(localPath, 400)}" changed size while it was uploaded; nothing was stored, run the upload again once it is written`,
    {
      details: { localPath: printable(localPath, 1024) },
    },
  )
}
