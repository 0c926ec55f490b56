import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import type { WharfClient } from '@wharf/client'
import { DEFAULT_LIMITS, ROUTES, WharfError, type Limits, type SnapshotSummary } from '@wharf/contract'
import { runPool } from '@wharf/datastores'
import { buildSnapshotManifest, type ManifestFile, type SnapshotManifest } from './manifest.js'

/** Options for {@link createSnapshot}. */
export interface CreateSnapshotOptions {
  /** The datastore that keeps the snapshot's bytes; the server's default (`workspaceblobstore`) when absent. */
  datastore?: string
  /** The limits to check before uploading; the server's (read with a health call when not known yet). */
  limits?: Pick<Limits, 'snapshotBytes' | 'snapshotFiles'>
  /** Blobs uploaded at the same time. Default 8. */
  concurrency?: number
  signal?: AbortSignal
}

/** What {@link createSnapshot} did. */
export interface CreatedSnapshot {
  summary: SnapshotSummary
  manifest: SnapshotManifest
  /** Files whose contents were sent (0 when the server held every one). */
  uploadedFiles: number
  uploadedBytes: number
}

/**
 * Snapshots `folder` on the server: builds the manifest (ignore files honoured, limits checked before
 * any upload), records it, uploads only the contents the datastore does not hold yet (streamed), and
 * records it again until it is complete. An unchanged folder costs one createSnapshot call.
 */
export async function createSnapshot(
  client: WharfClient,
  folder: string,
  options: CreateSnapshotOptions = {},
): Promise<CreatedSnapshot> {
  const { signal } = options
  const limits = options.limits ?? (await serverLimits(client, signal))
  const manifest = await buildSnapshotManifest(folder, { limits, ...(signal ? { signal } : {}) })
  const body = {
    ...(options.datastore !== undefined ? { datastore: options.datastore } : {}),
    files: manifest.files.map(({ localPath: _, ...file }) => file),
  }
  let summary = await client.call('createSnapshot', { body, signal })
  let uploadedFiles = 0
  let uploadedBytes = 0
  // Two rounds: a content another upload removed in between would be missing again; more means a fault.
  for (let round = 0; !summary.complete && round < 2; round++) {
    const bySha = new Map<string, ManifestFile>()
    for (const file of manifest.files) bySha.set(file.sha256, file)
    const missing = summary.missing.map((sha) => {
      const file = bySha.get(sha)
      if (!file) throw new WharfError('INTERNAL', `the server asked for content ${sha}, which the snapshot does not list`)
      return file
    })
    await runPool(missing, { concurrency: options.concurrency ?? 8, signal }, async (file) => {
      await uploadBlob(client, { file, summary, signal })
      uploadedFiles++
      uploadedBytes += file.size
    })
    summary = await client.call('createSnapshot', { body, signal })
  }
  if (!summary.complete) {
    throw new WharfError(
      'SNAPSHOT_INCOMPLETE',
      `snapshot ${summary.id} still misses ${summary.missing.length} contents after they were uploaded; submit again`,
      { details: { snapshotId: summary.id, missing: summary.missing.slice(0, 20) } },
    )
  }
  return { summary, manifest, uploadedFiles, uploadedBytes }
}

async function uploadBlob(
  client: WharfClient,
  options: { file: ManifestFile; summary: SnapshotSummary; signal: AbortSignal | undefined },
): Promise<void> {
  const { file, summary, signal } = options
  await client.send(ROUTES.uploadSnapshotBlob, {
    params: { sha256: file.sha256 },
    query: { datastore: summary.datastore },
    rawBody: Readable.toWeb(createReadStream(file.localPath)) as ReadableStream<Uint8Array>,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.size) },
    signal,
    timeout: false,
  })
}

/** The snapshot limits the server told, asking it once when the client does not know them yet. */
export async function serverLimits(client: WharfClient, signal?: AbortSignal): Promise<Readonly<Limits>> {
  if (client.serverLimits) return client.serverLimits
  try {
    await client.health(signal ? { signal } : {})
  } catch {
    // The createSnapshot call that follows reports an unreachable server in its own words.
  }
  return client.serverLimits ?? DEFAULT_LIMITS
}
