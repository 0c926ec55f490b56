import path from 'node:path'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { WharfError, printable } from '@wharf/contract'
import {
  downloadFiles,
  downloadRemoteFiles,
  type DatastoreDriver,
  type DownloadResult,
  type GetOptions,
  type OpenRemote,
  type RemoteFile,
  type TransferProgress,
} from '@wharf/datastores'
import { createProgressReporter } from './progress.js'

/** Where a download's files come from: a datastore's listing (under the options' prefix), or a list the caller has. */
export type DownloadSource = { driver: DatastoreDriver } | { files: readonly RemoteFile[] }

/** Options of {@link downloadVerified}. */
export interface VerifiedDownloadOptions {
  /** The local folder files are written under; created when missing. Nothing is written outside it. */
  targetDir: string
  /** A string prefix of the files' keys; all when absent. */
  prefix?: string
  /** Write files relative to the prefix instead of under their whole key. */
  stripPrefix?: boolean
  /** Replace local files with other content (default false: they are left alone and listed as skipped). */
  overwrite?: boolean
  /** Check each file's digest (MD5 or sha256) as it streams, before it is put in place (default true). */
  verify?: boolean
  /** Files moved at the same time (default: the engine's). */
  concurrency?: number
  /** Called with the counts as bytes flow. */
  onProgress?: (progress: TransferProgress) => void
  /** Draw the progress bar on stderr under this title; `summary: false` leaves the closing lines to the caller. */
  progress?: { title: string; summary?: boolean }
  signal?: AbortSignal
}

/**
 * The one verified download: every file goes through a temp file beside its target, is checked (size and
 * digest) while it streams, large files as parallel byte ranges hashed off the main thread, and is renamed
 * into place. One overwrite rule: an identical local file is left alone (`unchanged`), one with other
 * content is replaced only with `overwrite` (else `skipped`). Resolves with what happened to each file;
 * rejects only when the download cannot start, or with the signal's reason.
 */
export async function downloadVerified(source: DownloadSource, options: VerifiedDownloadOptions): Promise<DownloadResult> {
  const reporter = options.progress
    ? createProgressReporter({ title: options.progress.title, verb: 'downloaded', summary: options.progress.summary ?? true })
    : undefined
  const listeners = [options.onProgress, reporter ? (p: TransferProgress) => reporter.onProgress(p) : undefined].filter(
    (f) => f !== undefined,
  )
  const engine = {
    targetDir: options.targetDir,
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.stripPrefix !== undefined ? { stripPrefix: options.stripPrefix } : {}),
    ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
    ...(options.verify !== undefined ? { verify: options.verify } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(listeners.length > 0 ? { onProgress: (p: TransferProgress) => listeners.forEach((f) => f(p)) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  }
  const result = 'driver' in source ? await downloadFiles(source.driver, engine) : await downloadRemoteFiles(source.files, engine)
  reporter?.finish({ ...result, transferred: result.downloaded })
  return result
}

/** A file the server keeps with its sha256 (an artifact, an asset's file), read through `fetch` (a range when asked). */
export function serverFile(file: {
  key: string
  size: number
  sha256: string
  relative?: string
  fetch: (call: { range?: GetOptions['range']; signal?: AbortSignal }) => Promise<Response>
}): RemoteFile {
  const open: OpenRemote = async (get) => {
    const response = await file.fetch(get)
    return response.body ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) : Readable.from([])
  }
  return {
    key: file.key,
    size: file.size,
    digest: { algorithm: 'sha256', value: file.sha256 },
    open,
    ...(file.relative !== undefined ? { relative: file.relative } : {}),
  }
}

/** How many refused or failed files a message names before it says "and N more". */
const NAMED = 5

/**
 * For calls that promise every file is in place: throws the first failure (with how many more failed),
 * or FILE_EXISTS naming the local files left alone because they differ, with `overwriteHint` (the
 * caller's way to replace them). `localPathOf` turns a key into the local path the message names.
 */
export function requireAllPlaced(
  result: DownloadResult,
  options: { overwriteHint: string; localPathOf: (key: string) => string },
): void {
  const [first] = result.failed
  if (first !== undefined) {
    const more = result.failed.length > 1 ? ` (and ${result.failed.length - 1} more file(s) failed)` : ''
    throw new WharfError(first.code, `${first.message}${more}`, {
      details: { failed: result.failed.map((f) => ({ key: printable(f.key, 1024), code: f.code })) },
    })
  }
  if (result.skipped.length === 0) return
  const existing = result.skipped.map(options.localPathOf)
  const named = existing.slice(0, NAMED).join(', ')
  const more = existing.length > NAMED ? ` and ${existing.length - NAMED} more` : ''
  throw new WharfError(
    'FILE_EXISTS',
    `${existing.length} file(s) exist with other content and were left alone: ${named}${more}; ${options.overwriteHint}, or download into another folder`,
    { details: { existing } },
  )
}

/** The local paths of the files a download put (or found) in place, sorted. */
export function placedPaths(result: DownloadResult, localPathOf: (key: string) => string): string[] {
  return [...result.downloaded, ...result.overwritten, ...result.unchanged].map(localPathOf).sort()
}

/** The local path of `relative` (`/`-separated) under `root`. */
export function localPathUnder(root: string, relative: string): string {
  return path.join(root, ...relative.split('/'))
}
