import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import type { WharfClient } from '@wharf/client'
import { WharfError, type Artifact } from '@wharf/contract'
import { toDatastoreKey } from '@wharf/datastores'

/** How many artifacts a run uploads at once. */
export const TRANSFER_CONCURRENCY = 8

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
