import { SingleBar } from 'cli-progress'
import { formatBytes } from '../output/values.js'

/** Reports bytes and files as they arrive; a bar on a terminal, nothing otherwise. */
export interface Progress {
  addBytes(count: number): void
  fileDone(): void
  stop(): void
}

/** A progress bar on stderr when it is a terminal (and a no-op when it is not). */
export function createProgress(options: { totalBytes: number; totalFiles: number; enabled: boolean }): Progress {
  if (!options.enabled) return { addBytes: () => undefined, fileDone: () => undefined, stop: () => undefined }
  const bar = new SingleBar({
    format: ' {bar} {percentage}% | {files}/{totalFiles} files | {done} of {total_h} | ETA {eta_formatted}',
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
    barsize: 30,
  })
  let bytes = 0
  let files = 0
  const payload = (): object => ({ files, totalFiles: options.totalFiles, done: formatBytes(bytes), total_h: formatBytes(options.totalBytes) })
  // A zero total would show NaN%; one "byte" of total keeps the bar sane for empty files.
  bar.start(Math.max(1, options.totalBytes), 0, payload())
  return {
    addBytes(count) {
      bytes += count
      bar.update(bytes, payload())
    },
    fileDone() {
      files += 1
      bar.update(Math.max(bytes, options.totalBytes === 0 ? 1 : bytes), payload())
    },
    stop() {
      bar.stop()
    },
  }
}
