import cliProgress from 'cli-progress'
import type { TransferFailure, TransferProgress } from '@wharf/datastores'
import { formatBytes } from './format-bytes.js'

/** What a finished transfer reports, upload or download. */
export interface TransferSummary {
  /** Sent (or fetched) because it was not there. */
  transferred: readonly string[]
  overwritten: readonly string[]
  /** Already there with the same size and MD5: not sent again. */
  unchanged: readonly string[]
  /** There and different, left alone because overwrite was off. */
  skipped: readonly string[]
  failed: readonly TransferFailure[]
  bytes: number
}

/** Shows a transfer's progress on a stream (stderr by default) and its summary at the end. */
export interface ProgressReporter {
  onProgress(progress: TransferProgress): void
  finish(summary: TransferSummary): void
}

const NAMES_SHOWN = 10

function names(list: readonly string[]): string {
  const shown = list.slice(0, NAMES_SHOWN).join(', ')
  return list.length > NAMES_SHOWN ? `${shown}, … (${list.length - NAMES_SHOWN} more)` : shown
}

/** How the SDK tells a caller to replace skipped files; the CLI passes its flag instead. */
const OVERWRITE_HINT = 'pass overwrite: true to replace them'

/**
 * The lines a summary prints: counts, then the names of skipped and failed files, so a skip is never
 * silent. `verb` is "uploaded" or "downloaded"; `overwriteHint` says how to replace skipped files in
 * the caller's terms (default: the SDK option).
 */
export function summaryLines(
  summary: TransferSummary,
  options: { verb: string; seconds?: number; overwriteHint?: string },
): string[] {
  const parts = [`${summary.transferred.length} ${options.verb}`]
  if (summary.overwritten.length > 0) parts.push(`${summary.overwritten.length} overwritten`)
  if (summary.unchanged.length > 0) parts.push(`${summary.unchanged.length} unchanged`)
  if (summary.skipped.length > 0) parts.push(`${summary.skipped.length} skipped`)
  if (summary.failed.length > 0) parts.push(`${summary.failed.length} failed`)
  let head = `${parts.join(', ')} (${formatBytes(summary.bytes)}`
  if (options.seconds !== undefined && options.seconds > 0) head += ` in ${options.seconds.toFixed(1)} s`
  const lines = [head + ')']
  if (summary.skipped.length > 0) {
    lines.push(`skipped (already there and different; ${options.overwriteHint ?? OVERWRITE_HINT}): ${names(summary.skipped)}`)
  }
  for (const failure of summary.failed.slice(0, NAMES_SHOWN))
    lines.push(`failed: ${failure.key}: ${failure.message} [${failure.code}]`)
  if (summary.failed.length > NAMES_SHOWN) lines.push(`failed: … ${summary.failed.length - NAMES_SHOWN} more`)
  return lines
}

/**
 * A progress bar (files, bytes, rate, ETA) on a terminal; on anything else one line at the start and
 * the summary at the end, so logs stay readable.
 */
export function createProgressReporter(options: {
  title: string
  verb: string
  stream?: NodeJS.WriteStream
  /** Print the summary lines at the end (default true); callers printing their own result turn it off. */
  summary?: boolean
}): ProgressReporter {
  const stream = options.stream ?? process.stderr
  const started = performance.now()
  let bar: cliProgress.SingleBar | undefined
  let announced = false
  return {
    onProgress(progress) {
      if (!stream.isTTY) {
        if (!announced) {
          announced = true
          stream.write(`${options.title}: ${progress.filesTotal} files, ${formatBytes(progress.bytesTotal)}\n`)
        }
        return
      }
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            // Not {total}: cli-progress fills that token itself, with the raw byte count.
            format: `${options.title} [{bar}] {percentage}% | {files}/{filesTotal} files | {sent} of {size} | {rate} | ETA {eta_formatted}`,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        )
        bar.start(Math.max(progress.bytesTotal, 1), 0)
      }
      const seconds = (performance.now() - started) / 1000
      bar.setTotal(Math.max(progress.bytesTotal, 1))
      bar.update(progress.bytesDone, {
        files: progress.filesDone,
        filesTotal: progress.filesTotal,
        sent: formatBytes(progress.bytesDone),
        size: formatBytes(progress.bytesTotal),
        rate: `${formatBytes(seconds > 0 ? progress.bytesDone / seconds : 0)}/s`,
      })
    },
    finish(summary) {
      bar?.stop()
      if (options.summary === false) return
      const seconds = (performance.now() - started) / 1000
      for (const line of summaryLines(summary, { verb: options.verb, seconds })) stream.write(line + '\n')
    },
  }
}
