import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { WharfClient } from '@wharf/client'
import { WharfError, type Artifact } from '@wharf/contract'
import { createHashingStream, toDatastoreKey } from '@wharf/datastores'

/** How many files move at once in folder transfers. */
export const TRANSFER_CONCURRENCY = 8

/** Runs `work` over `items`, at most `limit` at a time; every item is tried, the first error is rethrown after. */
export async function forEachLimited<T>(items: readonly T[], options: { limit: number; work: (item: T) => Promise<void> }): Promise<void> {
  let next = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      try {
        await options.work(item)
      } catch (error) {
        errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.limit, items.length) }, worker))
  if (errors.length > 0) throw errors[0]
}

/** Every file under `folder`, as paths relative to it with `/` separators, sorted. */
export async function listFiles(folder: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true })
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), rel)
      else if (entry.isFile()) out.push(rel)
    }
  }
  await walk(folder, '')
  return out.sort()
}

/** Streams a local file (or stream) to an artifact; the file is never read whole into memory. */
export async function uploadArtifactFile(
  client: WharfClient,
  options: { runId: string; name: string; source: string | Readable; signal?: AbortSignal },
): Promise<Artifact> {
  const artifactPath = toDatastoreKey(options.name)
  if (typeof options.source === 'string') {
    const file = options.source
    let size: number
    try {
      const info = await stat(file)
      if (!info.isFile()) throw new WharfError('INVALID_ARGUMENT', `${file} is not a file; use uploadFolder for folders`)
      size = info.size
    } catch (cause) {
      if (cause instanceof WharfError) throw cause
      throw new WharfError('FILE_NOT_FOUND', `cannot read ${file}: ${(cause as Error).message}`, { cause })
    }
    return client.uploadArtifact(options.runId, {
      path: artifactPath,
      body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
      size,
      ...(options.signal ? { signal: options.signal } : {}),
    })
  }
  return client.uploadArtifact(options.runId, {
    path: artifactPath,
    body: Readable.toWeb(options.source) as ReadableStream<Uint8Array>,
    ...(options.signal ? { signal: options.signal } : {}),
  })
}

/** A file to fetch: what to call it in messages, its expected size and sha256, and how to open it. */
export interface VerifiedDownload {
  /** How messages name the file, such as `artifact "outputs/a.txt"`. */
  what: string
  size: number
  sha256: string
  /** Opens the download; the response body streams the bytes. */
  open: () => Promise<Response>
}

/**
 * Streams a file to `target` through a temp file, checking its sha256 on the way; the target appears
 * only when the whole, verified file is there (an existing one is replaced).
 */
export async function downloadVerifiedFile(file: VerifiedDownload, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true })
  const temp = `${target}.wharf-partial-${process.pid}`
  const response = await file.open()
  if (!response.body) throw new WharfError('INTERNAL', `the server sent no body for ${file.what}`)
  const hasher = createHashingStream({ size: file.size })
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), hasher, createWriteStream(temp))
    const { sha256 } = hasher.result()
    if (sha256 !== file.sha256) {
      throw new WharfError('INTERNAL', `${file.what} arrived damaged (sha256 ${sha256}, expected ${file.sha256}); download it again`)
    }
    await rename(temp, target)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

/**
 * Downloads an artifact to `target` through a temp file, checking its sha256 on the way; the target
 * appears only when the whole, verified file is there.
 */
export function downloadArtifactFile(
  client: WharfClient,
  options: { runId: string; artifact: Pick<Artifact, 'path' | 'sha256' | 'size'>; target: string; signal?: AbortSignal },
): Promise<void> {
  const { runId, artifact, target } = options
  return downloadVerifiedFile(
    {
      what: `artifact "${artifact.path}"`,
      size: artifact.size,
      sha256: artifact.sha256,
      open: () => client.downloadArtifact(runId, artifact.path, options.signal ? { signal: options.signal } : {}),
    },
    target,
  )
}
