import {
  closeSync,
  createReadStream,
  fstatSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { open, readdir, rename, rm, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { WharfClient } from '@wharf/client'
import { WharfError, isWharfError, printable, toJson, type IngestResult, type MetricSeriesIn } from '@wharf/contract'
import { countSeriesPoints } from './column-batch.js'
import { resolveRetryPolicy, retryRequest, type RetryOptions, type RetryPolicy } from '../retry.js'
import { createSpooledRun, finishSpooledRun, readSpooledRuns, spooledRunError } from '../runs/run-spool.js'

const SPOOL_SUFFIX = '.jsonl'
const WRITER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/

/** One spooled metric batch: one line of a spool file, everything needed to send it to any server. */
export interface SpoolRecord {
  runId: string
  workspace: string
  writerId: string
  sequence: number
  series: MetricSeriesIn[]
}

/** True when `writerId` can name a spool file and travel as a batch's writer id. */
export function isValidWriterId(writerId: string): boolean {
  return WRITER_ID_PATTERN.test(writerId)
}

/** The spool file of one writer of one run: `<spoolDir>/<runId>.<writerId>.jsonl`. */
export function spoolFilePath(target: { spoolDir: string; runId: string; writerId: string }): string {
  // Writer ids have no dots, so the last dot before the suffix splits the name back apart.
  return path.join(target.spoolDir, `${encodeURIComponent(target.runId)}.${target.writerId}${SPOOL_SUFFIX}`)
}

function parseSpoolFileName(name: string): { runId: string; writerId: string } | undefined {
  if (!name.endsWith(SPOOL_SUFFIX)) return undefined
  const stem = name.slice(0, -SPOOL_SUFFIX.length)
  const dot = stem.lastIndexOf('.')
  if (dot <= 0) return undefined
  const writerId = stem.slice(dot + 1)
  if (!isValidWriterId(writerId)) return undefined
  try {
    return { runId: decodeURIComponent(stem.slice(0, dot)), writerId }
  } catch {
    return undefined
  }
}

/** One line of a spool file (with its newline), in the format {@link parseSpoolLine} reads back. */
export function encodeSpoolLine(record: SpoolRecord): string {
  const { runId, workspace, writerId, sequence, series } = record
  return `${toJson({ v: 1, runId, workspace, writerId, sequence, series })}\n`
}

/** The record a spool line holds, or a short reason why the line is not one. Never throws. */
export function parseSpoolLine(text: string): SpoolRecord | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `not JSON (${(error as Error).message})`
  }
  if (typeof value !== 'object' || value === null) return 'not an object'
  const { runId, workspace, writerId, sequence, series } = value as Record<string, unknown>
  if (typeof runId !== 'string' || runId === '') return 'no runId'
  if (typeof writerId !== 'string' || !isValidWriterId(writerId)) return 'no valid writerId'
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 0) return 'no valid sequence'
  if (!Array.isArray(series)) return 'no series'
  return {
    runId,
    workspace: typeof workspace === 'string' && workspace !== '' ? workspace : 'default',
    writerId,
    sequence,
    series: series as MetricSeriesIn[],
  }
}

/** One line of a spool file and where it sits; `complete` is false for a last line with no newline. */
export interface SpoolLine {
  text: string
  start: number
  end: number
  complete: boolean
}

/** Streams the lines of a spool file between two byte offsets, never holding more than a line. */
export async function* readSpoolLines(file: string, range: { start?: number; end?: number } = {}): AsyncGenerator<SpoolLine> {
  const start = range.start ?? 0
  if (range.end !== undefined && range.end <= start) return
  const stream = createReadStream(file, { start, ...(range.end !== undefined ? { end: range.end - 1 } : {}) })
  let offset = start
  let pending: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0
    for (let newline = chunk.indexOf(10, from); newline !== -1; newline = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, newline)
      const bytes = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece
      pending = []
      const lineStart = offset
      offset += bytes.length + 1
      from = newline + 1
      yield { text: bytes.toString('utf8'), start: lineStart, end: offset, complete: true }
    }
    if (from < chunk.length) pending.push(chunk.subarray(from))
  }
  if (pending.length > 0) {
    const bytes = Buffer.concat(pending)
    yield { text: bytes.toString('utf8'), start: offset, end: offset + bytes.length, complete: false }
  }
}

// ------------------------------------------------------------------------------------------ locks

/** Spool files this process has locked (a live logger's own file, or one being replayed). */
const heldLocks = new Set<string>()

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readLockPid(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes the lock of a spool file (`<file>.lock` holding this process's id), so that no one replays a
 * file its writer still appends to, and two replays do not work on one file. A lock left by a process
 * that no longer exists is taken over. Returns why not when the file is in use.
 */
export function lockSpoolFile(file: string): { locked: true } | { locked: false; reason: string } {
  if (heldLocks.has(file)) return { locked: false, reason: 'in use in this process' }
  const lockFile = `${file}.lock`
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx')
      try {
        writeSync(fd, `${process.pid}\n`)
      } finally {
        closeSync(fd)
      }
      heldLocks.add(file)
      return { locked: true }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = readLockPid(lockFile)
    if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) {
      return { locked: false, reason: `in use by process ${pid}` }
    }
    // The lock's owner is gone (a crash or a kill): the file is orphaned and ours to take.
    try {
      unlinkSync(lockFile)
    } catch {
      // Someone else took it over first; the next attempt finds out.
    }
  }
  return { locked: false, reason: 'its lock changed hands while taking it' }
}

/** Releases a lock taken with {@link lockSpoolFile}. */
export function unlockSpoolFile(file: string): void {
  if (!heldLocks.delete(file)) return
  try {
    unlinkSync(`${file}.lock`)
  } catch {
    // Already gone: nothing to release.
  }
}

function fsyncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Some filesystems refuse to sync a directory; the file's own fsync still holds its data.
  }
}

// ------------------------------------------------------------------------------------------ writer

/**
 * The append side of one writer's spool file. Appends are synchronous so the lines land in the file
 * in the order the batches were made, even when the process exits right after; each append is then
 * fsynced in the background (coalesced), so a crash of the machine loses at most the last moment.
 */
export class SpoolWriter {
  readonly file: string
  #fd: number | undefined
  #written: number
  #syncing = false
  #dirty = false
  #closeWhenSynced = false
  #needsNewline = false
  #closed = false

  private constructor(file: string, fd: number) {
    this.file = file
    this.#fd = fd
    this.#written = fstatSync(fd).size
  }

  /** Creates (or reopens) the file under its lock; throws when another live process holds it. */
  static open(file: string): SpoolWriter {
    mkdirSync(path.dirname(file), { recursive: true })
    const lock = lockSpoolFile(file)
    if (!lock.locked) {
      throw new WharfError(
        'INTERNAL',
        `the spool file ${file} is ${lock.reason}; give every logger its own writerId (the default is unique)`,
      )
    }
    try {
      const writer = new SpoolWriter(file, openSync(file, 'a'))
      fsyncDirectory(path.dirname(file))
      return writer
    } catch (error) {
      unlockSpoolFile(file)
      throw error
    }
  }

  /** Bytes in the file, as far as this writer knows (everything before is complete lines). */
  get written(): number {
    return this.#written
  }

  /** Appends records, in order, as lines; throws the I/O error when the disk refuses. */
  append(records: readonly SpoolRecord[]): void {
    const fd = this.#fd
    if (fd === undefined || this.#closed) throw new WharfError('INTERNAL', `the spool file ${this.file} is already closed`)
    let text = this.#needsNewline ? '\n' : ''
    for (const record of records) text += encodeSpoolLine(record)
    const bytes = Buffer.from(text, 'utf8')
    try {
      let done = 0
      while (done < bytes.length) done += writeSync(fd, bytes, done)
      this.#needsNewline = false
      this.#written += bytes.length
    } catch (error) {
      // A partial line may be in the file: start the next append on a fresh line, and trust the size.
      this.#needsNewline = true
      try {
        this.#written = fstatSync(fd).size
      } catch {
        // Keep the old count; a torn line is skipped on replay.
      }
      throw error
    }
    this.#scheduleSync()
  }

  #scheduleSync(): void {
    if (this.#syncing) {
      this.#dirty = true
      return
    }
    const fd = this.#fd
    if (fd === undefined) return
    this.#syncing = true
    this.#dirty = false
    fsync(fd, () => {
      this.#syncing = false
      if (this.#closeWhenSynced) this.#closeFd()
      else if (this.#dirty) this.#scheduleSync()
    })
  }

  /** Fsyncs now, on this thread (for exit paths, where a background fsync would never finish). */
  syncNow(): void {
    if (this.#fd === undefined) return
    try {
      fsyncSync(this.#fd)
    } catch {
      // The data is in the page cache already; only a machine crash could lose it now.
    }
  }

  #closeFd(): void {
    if (this.#fd === undefined) return
    try {
      closeSync(this.#fd)
    } catch {
      // Nothing left to do with a descriptor that will not close.
    }
    this.#fd = undefined
  }

  /**
   * Stops appending and releases the lock; `remove` deletes the file (every line in it is stored),
   * otherwise it is fsynced and kept for a later replay. `atExit` closes at once, whatever is running.
   */
  close(options: { remove: boolean; atExit?: boolean }): void {
    if (this.#closed) return
    this.#closed = true
    if (options.remove) {
      try {
        unlinkSync(this.file)
      } catch {
        // Already gone.
      }
    } else {
      this.syncNow()
    }
    // A background fsync still holds the descriptor: close it when that returns, not under it.
    if (this.#syncing && options.atExit !== true) this.#closeWhenSynced = true
    else this.#closeFd()
    unlockSpoolFile(this.file)
  }
}

// ------------------------------------------------------------------------------------------ sending

/**
 * Sends one spooled batch with its original writer id and sequence; throws DUPLICATE_BATCH_MISMATCH
 * when the server already holds that (writerId, sequence) with another point count.
 */
export async function sendSpoolRecord(
  client: WharfClient,
  record: SpoolRecord,
  options: { signal?: AbortSignal } = {},
): Promise<IngestResult> {
  const { writerId, sequence, series } = record
  const result = await client.logMetrics(
    record.runId,
    { writerId, sequence, series },
    options.signal ? { signal: options.signal } : {},
  )
  const points = countSeriesPoints(series)
  if (result.duplicate && result.accepted !== points) {
    throw new WharfError(
      'DUPLICATE_BATCH_MISMATCH',
      `run "${printable(record.runId)}" already holds batch ${sequence} of writer "${writerId}" with ${result.accepted} points, not ${points}: the writer id was reused; give every logger its own writerId`,
      { details: { runId: record.runId, writerId, sequence, stored: result.accepted, sent: points } },
    )
  }
  return result
}

// ------------------------------------------------------------------------------------------ replay

/** A client, or a way to pick one per run (for spool files of runs on several servers or workspaces). */
export type SpoolClientSource = WharfClient | ((runId: string, context: { workspace: string }) => WharfClient)

/** What {@link replaySpool} needs. */
export interface ReplaySpoolOptions {
  /** The server to send to. A client is switched to each line's workspace. */
  client: SpoolClientSource
  /** The folder holding the spool files. A missing folder means nothing to replay. */
  spoolDir: string
  /** Only the files of this run. */
  runId?: string
  /** Retries of each batch while the server is unreachable or answers 5xx. */
  retry?: RetryOptions
  signal?: AbortSignal
  /** Told about lines that were skipped (torn by a crash, or not a batch). Default: a process warning. */
  onWarning?: (message: string) => void
}

/** What a replay did. */
export interface ReplaySpoolResult {
  /** Spool files read; the fully replayed ones are deleted, the others are in `failed`. */
  files: number
  /** Batches the server acknowledged (stored now, or recognised as stored before). */
  batches: number
  /** Points in those batches. */
  points: number
  /** Files kept because a batch could not be stored; each keeps exactly the batches not yet stored. */
  failed: { file: string; error: WharfError }[]
  /** Files left alone because a live process holds them (a logger still writing, or another replay). */
  skipped: { file: string; reason: string }[]
  /**
   * Runs recorded in the spool (started offline, or whose end could not be sent): how many were
   * created, how many of their files uploaded, how many ended. Only when no `runId` is given.
   */
  runs: { created: number; artifacts: number; ended: number }
}

function clientPicker(source: SpoolClientSource): (record: { runId: string; workspace: string }) => WharfClient {
  if (typeof source === 'function') return (record) => source(record.runId, { workspace: record.workspace })
  const byWorkspace = new Map<string, WharfClient>([[source.workspace, source]])
  return (record) => {
    let client = byWorkspace.get(record.workspace)
    if (client === undefined) {
      client = source.withWorkspace(record.workspace)
      byWorkspace.set(record.workspace, client)
    }
    return client
  }
}

function abortError(): WharfError {
  return new WharfError(
    'ABORTED',
    'the spool replay was aborted by the caller; the batches not sent stay in their spool files',
  )
}

/** Rewrites `file` to hold only bytes [start, end), atomically (temp file, fsync, rename). */
async function keepOnly(file: string, range: { start: number; end: number }): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`
  const handle = await open(temp, 'w')
  try {
    if (range.end > range.start) {
      for await (const chunk of createReadStream(file, { start: range.start, end: range.end - 1 }) as AsyncIterable<Buffer>) {
        await handle.write(chunk)
      }
    }
    await handle.sync()
  } catch (error) {
    await handle.close()
    await rm(temp, { force: true })
    throw error
  }
  await handle.close()
  await rename(temp, file)
  fsyncDirectory(path.dirname(file))
}

interface FileReplay {
  batches: number
  points: number
  error?: WharfError
}

async function replayFile(
  file: string,
  context: { pick: (record: SpoolRecord) => WharfClient; policy: RetryPolicy; signal?: AbortSignal; warn: (message: string) => void },
): Promise<FileReplay> {
  const outcome: FileReplay = { batches: 0, points: 0 }
  // A writer appends in increasing sequence; a line at or below one already sent is a second copy
  // (written again at exit while a first append was still landing) and is not sent twice.
  const lastSequence = new Map<string, number>()
  let failedAt: number | undefined
  let completeEnd = 0
  let tornTail = false
  for await (const line of readSpoolLines(file)) {
    if (!line.complete) {
      tornTail = true
      if (line.text.trim() !== '') {
        context.warn(`skipped the last line of ${file} (byte ${line.start}): it was cut off mid-write, so its batch was never complete`)
      }
      break
    }
    completeEnd = line.end
    if (failedAt !== undefined || line.text.trim() === '') continue
    if (context.signal?.aborted) {
      outcome.error = abortError()
      failedAt = line.start
      continue
    }
    const record = parseSpoolLine(line.text)
    if (typeof record === 'string') {
      context.warn(`skipped line at byte ${line.start} of ${file}: ${record}`)
      continue
    }
    if (record.sequence <= (lastSequence.get(record.writerId) ?? -1)) continue
    try {
      const client = context.pick(record)
      await retryRequest(() => sendSpoolRecord(client, record, context.signal ? { signal: context.signal } : {}), {
        policy: context.policy,
        serverUrl: client.url,
      })
      lastSequence.set(record.writerId, record.sequence)
      outcome.batches++
      outcome.points += countSeriesPoints(record.series)
    } catch (error) {
      outcome.error = isWharfError(error) ? error : new WharfError('INTERNAL', String(error), { cause: error })
      failedAt = line.start
    }
  }
  if (failedAt === undefined) {
    await unlink(file)
  } else if (failedAt > 0 || tornTail) {
    await keepOnly(file, { start: failedAt, end: completeEnd })
  }
  return outcome
}

/**
 * Sends every spooled batch in `spoolDir` (or only those of `runId`) in file order with its original
 * writer id and sequence, so a batch the server already stored is not stored twice. A file is deleted
 * once every line is acknowledged; otherwise it is rewritten (atomically) to the lines not yet stored
 * and reported in `failed`. A torn last line is skipped with a warning. Files locked by a live process
 * are skipped. Without `runId`, runs recorded in the spool are replayed too: each is created (with
 * its own id, so again is harmless) before its batches, and once they are all sent its files are
 * uploaded and its final status set. Throws only for an abort (after saving what is left) or an
 * unreadable folder.
 */
export async function replaySpool(options: ReplaySpoolOptions): Promise<ReplaySpoolResult> {
  const policy = resolveRetryPolicy(options.retry)
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, { type: 'WharfSpoolWarning' }))
  const result: ReplaySpoolResult = { files: 0, batches: 0, points: 0, failed: [], skipped: [], runs: { created: 0, artifacts: 0, ended: 0 } }
  let names: string[]
  try {
    names = await readdir(options.spoolDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return result
    throw error
  }
  const pick = clientPicker(options.client)
  const call = { policy, ...(options.signal ? { signal: options.signal } : {}) }
  let unreachable = false
  // Runs recorded offline are created first, so their batches have a run to go to.
  const spooledRuns = options.runId === undefined ? await readSpooledRuns(options.spoolDir, warn) : []
  const notCreated = new Set<string>()
  for (const run of spooledRuns) {
    if (run.creation === undefined) continue
    if (options.signal?.aborted) throw abortError()
    try {
      await createSpooledRun(run, { ...call, client: pick(run), ...(unreachable ? { policy: { ...policy, attempts: 1 } } : {}) })
      result.runs.created++
    } catch (error) {
      const failure = spooledRunError(run, error)
      result.failed.push({ file: run.folder, error: failure })
      if (failure.code === 'SERVER_UNREACHABLE') unreachable = true
      notCreated.add(run.runId)
    }
  }
  const files = names
    .map((name) => ({ name, parsed: parseSpoolFileName(name) }))
    .filter((entry) => entry.parsed !== undefined && (options.runId === undefined || entry.parsed.runId === options.runId))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((entry) => ({ file: path.join(options.spoolDir, entry.name), runId: entry.parsed?.runId ?? '' }))
  // Runs with batches not sent yet are not ended: their files and status wait for the next sync.
  const unsent = new Set<string>(notCreated)
  for (const { file, runId } of files) {
    if (options.signal?.aborted) throw abortError()
    if (notCreated.has(runId)) {
      result.skipped.push({ file, reason: `its run "${printable(runId)}" could not be created yet` })
      continue
    }
    const lock = lockSpoolFile(file)
    if (!lock.locked) {
      result.skipped.push({ file, reason: lock.reason })
      unsent.add(runId)
      continue
    }
    try {
      result.files++
      // Once the server proved unreachable, the next files get one try each instead of a full backoff.
      const outcome = await replayFile(file, {
        pick,
        policy: unreachable ? { ...policy, attempts: 1 } : policy,
        ...(options.signal ? { signal: options.signal } : {}),
        warn,
      })
      result.batches += outcome.batches
      result.points += outcome.points
      if (outcome.error !== undefined) {
        result.failed.push({ file, error: outcome.error })
        unsent.add(runId)
        if (outcome.error.code === 'SERVER_UNREACHABLE') unreachable = true
        if (options.signal?.aborted) throw outcome.error
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') result.files--
      else throw error
    } finally {
      unlockSpoolFile(file)
    }
  }
  // Then each run's files, then its final status: a run is Completed only with everything in it.
  for (const run of spooledRuns) {
    if (unsent.has(run.runId)) continue
    if (options.signal?.aborted) throw abortError()
    try {
      const finished = await finishSpooledRun(run, { ...call, client: pick(run), ...(unreachable ? { policy: { ...policy, attempts: 1 } } : {}) })
      result.runs.artifacts += finished.artifacts
      if (finished.ended) result.runs.ended++
    } catch (error) {
      const failure = spooledRunError(run, error)
      result.failed.push({ file: run.folder, error: failure })
      if (failure.code === 'SERVER_UNREACHABLE') unreachable = true
    }
  }
  return result
}
