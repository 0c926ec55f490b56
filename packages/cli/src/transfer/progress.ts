import { createProgressReporter } from '@wharf/sdk'

/** Reports bytes and files as they arrive; a bar on a terminal, nothing otherwise. */
export interface Progress {
  addBytes(count: number): void
  fileDone(): void
  stop(): void
}

/**
 * A progress bar on stderr when it is a terminal (and a no-op when it is not): the SDK's transfer bar,
 * fed by counts, so artifact and datastore transfers look the same and print sizes the same way.
 */
export function createProgress(options: { title: string; totalBytes: number; totalFiles: number; enabled: boolean }): Progress {
  if (!options.enabled) return { addBytes: () => undefined, fileDone: () => undefined, stop: () => undefined }
  const reporter = createProgressReporter({ title: options.title, verb: 'downloaded', summary: false })
  let bytesDone = 0
  let filesDone = 0
  const report = (): void => reporter.onProgress({ bytesDone, bytesTotal: options.totalBytes, filesDone, filesTotal: options.totalFiles, skipped: 0, failed: 0 })
  report()
  return {
    addBytes(count) {
      bytesDone += count
      report()
    },
    fileDone() {
      filesDone += 1
      report()
    },
    stop() {
      reporter.finish({ transferred: [], overwritten: [], unchanged: [], skipped: [], failed: [], bytes: bytesDone })
    },
  }
}
