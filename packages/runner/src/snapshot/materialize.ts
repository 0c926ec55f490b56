import { createHash } from 'node:crypto'
import { chmod, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { WharfClient } from '@wharf/client'
import { ROUTES, WharfError, printable, type Snapshot, type SnapshotFile } from '@wharf/contract'
import { createHashingStream, runPool } from '@wharf/datastores'

/** Where {@link materializeSnapshot} writes, and how. */
export interface MaterializeOptions {
  /** The folder the files are written under; created when missing. */
  folder: string
  /** Files downloaded at the same time. Default 8. */
  concurrency?: number
  /**
   * The source folder the snapshot was taken of, when it is on this machine (the local compute target):
   * each file whose content there still has the snapshot's sha256 is copied from it instead of
   * downloaded; a file changed or removed since is downloaded. Hash-checked either way.
   */
  localSource?: string
  signal?: AbortSignal
}

/**
 * Downloads snapshot `snapshotId` into `folder` (created when missing): every file at its path, with
 * its executable bit, each checked against its sha256. SNAPSHOT_NOT_FOUND for an unknown id; UNSAFE_PATH for a path that would leave
 * the folder. Returns the snapshot's manifest.
 */
export async function materializeSnapshot(
  client: WharfClient,
  snapshotId: string,
  target: string | MaterializeOptions,
): Promise<Snapshot & { copiedLocally: number }> {
  const options: MaterializeOptions = typeof target === 'string' ? { folder: target } : target
  const { signal, folder } = options
  const snapshot = await client.call('getSnapshot', { params: { snapshotId }, signal })
  const root = path.resolve(folder)
  await mkdir(root, { recursive: true })
  const targets = snapshot.files.map((file) => {
    const target = path.resolve(root, ...file.path.split('/'))
    if (!target.startsWith(root + path.sep)) {
      throw new WharfError('UNSAFE_PATH', `snapshot ${snapshotId} lists "${printable(file.path)}", which leads out of its folder`)
    }
    return { file, target }
  })
  let copied = 0
  // Each folder once, before the files: a thousand files in twenty folders make twenty mkdir calls, not a thousand.
  for (const folder of new Set(targets.map(({ target }) => path.dirname(target)))) await mkdir(folder, { recursive: true })
  await runPool(targets, { concurrency: options.concurrency ?? 8, signal }, async ({ file, target }) => {
    if (
      options.localSource !== undefined &&
      (await copyIfSame(path.join(options.localSource, ...file.path.split('/')), target, file))
    ) {
      copied++
      if (file.executable === true) await chmod(target, 0o755)
      return
    }
    const response = await client.send(ROUTES.downloadSnapshotBlob, {
      params: { sha256: file.sha256 },
      query: { datastore: snapshot.datastore },
      signal,
      timeout: false,
    })
    const body = response.body
    const source = body ? Readable.fromWeb(body as WebReadableStream<Uint8Array>) : Readable.from([])
    const hasher = createHashingStream({ size: file.size })
    await pipeline(source, hasher, createWriteStream(target), signal ? { signal } : {})
    if (hasher.result().sha256 !== file.sha256) {
      throw new WharfError(
        'DATASTORE_UNAVAILABLE',
        `the content of "${printable(file.path)}" in snapshot ${snapshotId} arrived damaged (sha256 differs); run it again`,
      )
    }
    if (file.executable === true) await chmod(target, 0o755)
  })
  return { ...snapshot, copiedLocally: copied }
}

/** Files up to this size are copied from the source folder in one read (most source files); bigger ones stream. */
const WHOLE_READ_BYTES = 1024 * 1024

/** Copies `source` to `target` when its content has `file`'s sha256 (checked while copying); false, and no file kept, otherwise. */
async function copyIfSame(source: string, target: string, file: SnapshotFile): Promise<boolean> {
  try {
    if (file.size <= WHOLE_READ_BYTES) {
      // Synchronous on purpose: for small files a thread-pool round trip per call costs more than the
      // read itself, and nothing else waits on this process while it prepares the working folder.
      const bytes = readFileSync(source)
      if (bytes.length !== file.size || createHash('sha256').update(bytes).digest('hex') !== file.sha256) return false
      writeFileSync(target, bytes)
      return true
    }
    const hasher = createHashingStream({ size: file.size })
    await pipeline(createReadStream(source), hasher, createWriteStream(target))
    if (hasher.result().sha256 === file.sha256) return true
  } catch {
    // Gone, unreadable or resized since the snapshot: the server has the content.
  }
  await rm(target, { force: true })
  return false
}
