import { createReadStream } from 'node:fs'
import { open, readdir, rename, rm, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { WharfClient } from '@wharf/client'
import { WharfError, isWharfError, printable } from '@wharf/contract'
import { countSeriesPoints } from './column-batch.js'
import { resolveRetryPolicy, retryRequest, type RetryOptions, type RetryPolicy } from '../retry.js'
import { createSpooledRun, finishSpooledRun, readSpooledRuns, spooledRunError } from '../runs/run-spool.js'
import { fsyncDirectory, parseSpoolFileName, parseSpoolLine, readSpoolLines, type SpoolRecord } from './spool-file.js'
import { lockSpoolFile, unlockSpoolFile } from './spool-lock.js'
import { createClientPicker, sendSpoolRecord, type SpoolClientSource } from './spool-send.js'

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

function abortError(): WharfError {
  return new WharfError('ABORTED', 'the spool replay was aborted by the caller; the batches not sent stay in their spool files')
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
  context: {
    pick: (record: SpoolRecord) => WharfClient
    policy: RetryPolicy
    signal?: AbortSignal
    warn: (message: string) => void
  },
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
        context.warn(
          `skipped the last line of ${file} (byte ${line.start}): it was cut off mid-write, so its batch was never complete`,
        )
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
  const result: ReplaySpoolResult = {
    files: 0,
    batches: 0,
    points: 0,
    failed: [],
    skipped: [],
    runs: { created: 0, artifacts: 0, ended: 0 },
  }
  let names: string[]
  try {
    names = await readdir(options.spoolDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return result
    throw error
  }
  const pick = createClientPicker(options.client)
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
      const finished = await finishSpooledRun(run, {
        ...call,
        client: pick(run),
        ...(unreachable ? { policy: { ...policy, attempts: 1 } } : {}),
      })
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
