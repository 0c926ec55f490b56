import { closeSync, createReadStream, fsyncSync, openSync } from 'node:fs'
import path from 'node:path'
import { toJson, type MetricSeriesIn } from '@wharf/contract'

// What a spool file is: its name, its lines and how they are read back. One writer's batches of one
// run, one JSON line each, in the order they were made (decision 0006).

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

/** The run and writer a spool file name stands for, or undefined for a name that is no spool file. */
export function parseSpoolFileName(name: string): { runId: string; writerId: string } | undefined {
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

/** Fsyncs a folder, so a file just created or renamed in it survives a machine crash. Never throws. */
export function fsyncDirectory(dir: string): void {
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
