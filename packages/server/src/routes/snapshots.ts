import { createHash } from 'node:crypto'
import { pipeline } from 'node:stream'
import {
  ROUTES,
  WharfError,
  assertWithinLimit,
  isWharfError,
  printable,
  type SnapshotFile,
  type SnapshotSummary,
} from '@wharf/contract'
import { createHashingStream, joinKey, toDatastoreKey, type DatastoreKey } from '@wharf/datastores'
import type { MetadataStore, StoredSnapshot } from '@wharf/store'
import { BLOB_STORE } from '../bootstrap.js'
import type { AppDeps } from '../deps.js'
import { jsonKeepingSign, requestBody } from '../http.js'
import type { BindRoute } from '../route.js'
import type { RunTokenLookups } from '../run-token.js'
import { storedFileResponse } from './file-response.js'

/** Where a snapshot content lives in its datastore: by SHA-256, fanned out by its first two digits. */
export function snapshotBlobKey(sha256: string): DatastoreKey {
  return joinKey('.wharf/snapshots/blobs', sha256.slice(0, 2), sha256)
}

/**
 * The files of a manifest checked and in canonical order (by path, code unit order): each path a
 * relative key written the one way `toDatastoreKey` writes it (UNSAFE_PATH otherwise), no path twice,
 * one size per content. INVALID_ARGUMENT names the offending path.
 */
export function canonicalFiles(files: readonly SnapshotFile[]): SnapshotFile[] {
  const sizes = new Map<string, number>()
  const seen = new Set<string>()
  const canonical = files.map((file): SnapshotFile => {
    const key = toDatastoreKey(file.path)
    if (key !== file.path) {
      throw new WharfError(
        'UNSAFE_PATH',
        `snapshot path "${printable(file.path)}" is not in canonical form; write it as "${printable(key)}" (relative, forward slashes, no "./" or trailing "/")`,
        { details: { path: file.path } },
      )
    }
    // At any depth, as the runner leaves `.wharf` folders out of snapshots.
    if (key.split('/').slice(0, -1).includes('.wharf')) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `snapshot path "${printable(key)}" is in a ".wharf/" folder, the workspace's own configuration (it may hold tokens); a snapshot never carries it, so leave the folder out`,
        { details: { path: key } },
      )
    }
    if (seen.has(key)) {
      throw new WharfError('INVALID_ARGUMENT', `snapshot path "${printable(key)}" is listed twice; list each file once`, {
        details: { path: key },
      })
    }
    seen.add(key)
    const size = sizes.get(file.sha256)
    if (size !== undefined && size !== file.size) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `snapshot content ${file.sha256} is listed with sizes ${size} and ${file.size}; one content has one size, so hash the files again`,
        { details: { path: key, sha256: file.sha256 } },
      )
    }
    sizes.set(file.sha256, file.size)
    return { path: key, sha256: file.sha256, size: file.size, executable: file.executable === true }
  })
  // A path cannot be both a file and the folder of another file: no checkout could hold both.
  for (const key of seen) {
    const segments = key.split('/')
    for (let end = 1; end < segments.length; end++) {
      const folder = segments.slice(0, end).join('/')
      if (seen.has(folder)) {
        throw new WharfError(
          'INVALID_ARGUMENT',
          `snapshot path "${printable(folder)}" is a file, but "${printable(key)}" puts it as a folder; a path cannot be both`,
          { details: { path: key, folder } },
        )
      }
    }
  }
  return canonical.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/**
 * A snapshot's id: the SHA-256 of its canonical manifest (files in path order, each as path, content
 * hash, size and executable bit), so the same files give the same id whoever snapshots them.
 */
export function snapshotIdOf(files: readonly SnapshotFile[]): string {
  const manifest = files.map((file) => [file.path, file.sha256, file.size, file.executable === true])
  return createHash('sha256')
    .update(`wharf-snapshot-v1\n${JSON.stringify(manifest)}`)
    .digest('hex')
}

function summaryOf(snapshot: StoredSnapshot, missing: string[]): SnapshotSummary {
  return {
    id: snapshot.id,
    datastore: snapshot.datastore,
    fileCount: snapshot.files.length,
    totalBytes: snapshot.totalBytes,
    complete: missing.length === 0,
    missing,
  }
}

/** How many snapshots' content lists the run-token check keeps (a runner downloads one snapshot's files in a burst). */
const CACHED_SNAPSHOTS = 32

/** The run-token check's view of snapshots: the contents each lists, cached (a complete snapshot never changes). */
export function snapshotContentsCache(store: MetadataStore): RunTokenLookups {
  const cache = new Map<string, { datastore: string; sha256s: ReadonlySet<string> }>()
  return {
    async snapshotContents(ref) {
      const key = `${ref.workspace}\u0000${ref.id}`
      const hit = cache.get(key)
      if (hit !== undefined) return hit
      const snapshot = await store.findSnapshot(ref)
      if (snapshot === undefined || !snapshot.complete) return undefined
      const contents = { datastore: snapshot.datastore, sha256s: new Set(snapshot.files.map((file) => file.sha256)) }
      if (cache.size >= CACHED_SNAPSHOTS) cache.delete(cache.keys().next().value ?? '')
      cache.set(key, contents)
      return contents
    },
  }
}

function tooLargeBlob(max: number): WharfError {
  return new WharfError('PAYLOAD_TOO_LARGE', `the snapshot content is larger than ${max} bytes (server limit "snapshotBytes")`, {
    details: { limit: 'snapshotBytes', max },
  })
}

/** Snapshots: manifests by content, their contents uploaded once per datastore, and read back by runners. */
export function mountSnapshotRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  route(ROUTES.createSnapshot, async ({ c, params: { workspace }, body }) => {
    assertWithinLimit(limits, 'snapshotFiles', { what: 'the number of files in the snapshot', actual: body.files.length })
    const files = canonicalFiles(body.files)
    const totalBytes = files.reduce((sum, file) => sum + file.size, 0)
    assertWithinLimit(limits, 'snapshotBytes', { what: 'the size of the snapshot in bytes', actual: totalBytes })
    await store.getWorkspace(workspace)
    const id = snapshotIdOf(files)
    const existing = await store.findSnapshot({ workspace, id })
    // Content-addressed: a snapshot recorded before is these files, wherever its bytes were put.
    if (existing?.complete === true) return jsonKeepingSign(c, summaryOf(existing, []), 200)
    const datastore = existing?.datastore ?? body.datastore ?? BLOB_STORE
    await store.getDatastore({ workspace, name: datastore })
    const held = await store.findSnapshotBlobs({ workspace, datastore, sha256s: files.map((file) => file.sha256) })
    const missing = [...new Set(files.map((file) => file.sha256).filter((sha256) => !held.has(sha256)))].sort()
    const { snapshot, created } = await store.putSnapshot({
      workspace,
      id,
      datastore,
      files,
      totalBytes,
      complete: missing.length === 0,
      createdAt: new Date().toISOString(),
    })
    const summary = summaryOf(snapshot, missing)
    return created ? summary : jsonKeepingSign(c, summary, 200)
  })

  route(ROUTES.getSnapshot, async ({ params: { workspace, snapshotId } }) => {
    const { workspace: _workspace, complete: _complete, ...snapshot } = await store.getSnapshot({ workspace, id: snapshotId })
    return snapshot
  })

  route(ROUTES.uploadSnapshotBlob, async ({ c, params: { workspace, sha256 }, query }) => {
    const datastore = query.datastore ?? BLOB_STORE
    const driver = await drivers.get(workspace, datastore)
    const answer = (size: number, stored: boolean) =>
      stored ? { sha256, size, stored } : jsonKeepingSign(c, { sha256, size, stored }, 200)
    const held = (await store.findSnapshotBlobs({ workspace, datastore, sha256s: [sha256] })).get(sha256)
    const record = (size: number) =>
      store.recordSnapshotBlob({ workspace, datastore, sha256, size, createdAt: new Date().toISOString() })
    const key = snapshotBlobKey(sha256)
    // Bytes at the key were checked when they were put (a crash may have come before they were noted).
    // The record alone is not trusted: bytes removed from the storage since are taken again.
    const there = await driver.stat(key)
    if (there !== undefined) {
      if (held === undefined) await record(there.size)
      return answer(there.size, false)
    }
    const declaredHeader = c.req.header('content-length')
    const declared = declaredHeader === undefined ? undefined : Number(declaredHeader)
    if (declared !== undefined)
      assertWithinLimit(limits, 'snapshotBytes', { what: 'the snapshot content size in bytes', actual: declared })
    const body = requestBody(
      c,
      declared === undefined ? { cap: { max: limits.snapshotBytes, tooLarge: () => tooLargeBlob(limits.snapshotBytes) } } : {},
    )
    const check = createHashingStream({ sha256 })
    // The body's failure reaches the driver through the check, which it destroys.
    pipeline(body, check, () => undefined)
    try {
      const stored = await driver.put(key, check, {
        ...(declared !== undefined && Number.isSafeInteger(declared) ? { size: declared } : {}),
        contentType: 'application/octet-stream',
        ifNotExists: true,
      })
      await record(stored.size)
      return answer(stored.size, true)
    } catch (error) {
      // Another upload of the same content won the conditional write: the bytes are there, checked.
      if (!isWharfError(error, 'FILE_EXISTS')) throw error
      const winner = await driver.stat(key)
      if (winner === undefined) throw error
      await record(winner.size)
      return answer(winner.size, false)
    }
  })

  route(ROUTES.downloadSnapshotBlob, async ({ c, params: { workspace, sha256 }, query }) => {
    const datastore = query.datastore ?? BLOB_STORE
    const driver = await drivers.get(workspace, datastore)
    const key = snapshotBlobKey(sha256)
    const info = await driver.stat(key)
    if (info === undefined) {
      throw new WharfError(
        'FILE_NOT_FOUND',
        `datastore "${datastore}" holds no snapshot content ${sha256}; upload it with uploadSnapshotBlob (createSnapshot lists what is missing)`,
        { details: { sha256, datastore } },
      )
    }
    return storedFileResponse(c, {
      driver,
      file: { key, size: info.size, sha256, contentType: 'application/octet-stream' },
    })
  })
}
