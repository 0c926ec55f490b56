import mime from 'mime-types'
import {
  ROUTES,
  WharfError,
  assertWithinLimit,
  isTerminalStatus,
  isWharfError,
  printable,
  type Artifact,
  type Limits,
} from '@wharf/contract'
import { joinKey, toDatastoreKey, toKeyPrefix, type PutResult } from '@wharf/datastores'
import type { RecordedArtifact } from '@wharf/store'
import type { AppDeps } from '../deps.js'
import { requestBody, type AppContext } from '../http.js'
import type { BindRoute } from '../route.js'
import { pathAfter, storedFileResponse } from './file-response.js'
import { pageSizeOf } from './paging.js'
import { newRunId } from './runs.js'

const CONTENT_MARK = '/artifacts/content/'

/** Where a run's artifact bytes live inside the artifact datastore. */
export function artifactKey(runId: string, path: string): string {
  return joinKey('ExperimentRun', runId, path)
}

/** The artifact path after `/artifacts/content/`, decoded segment by segment and checked for safety. */
function artifactPathParam(c: AppContext, limits: Pick<Limits, 'artifactPathLength'>): string {
  return pathAfter(c, { mark: CONTENT_MARK, what: 'artifact path', limits })
}

function tooLargeArtifact(max: number): WharfError {
  return new WharfError('PAYLOAD_TOO_LARGE', `the artifact is larger than ${max} bytes (server limit "artifactBytes")`, {
    details: { limit: 'artifactBytes', max },
  })
}

function contentTypeFor(path: string, declared: string | undefined): string {
  if (declared && !/^application\/octet-stream\b/i.test(declared) && !/^application\/x-www-form/i.test(declared)) return declared
  return mime.lookup(path) || 'application/octet-stream'
}

/** Artifacts: streamed upload, listing by prefix, streamed download with ranges. */
export function mountArtifactRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  route(ROUTES.listArtifacts, async ({ params: { workspace, runId }, query }) => {
    const prefix = query.prefix === undefined || query.prefix === '' ? undefined : toKeyPrefix(query.prefix)
    return store.listArtifacts({
      workspace,
      runId,
      ...(prefix !== undefined ? { prefix } : {}),
      pageSize: pageSizeOf(query, limits),
      pageToken: query.pageToken,
    })
  })

  route(ROUTES.uploadArtifact, async ({ c, params: { workspace, runId } }) =>
    storeRunArtifact(deps, { c, workspace, runId, path: artifactPathParam(c, limits) }),
  )

  route(ROUTES.downloadArtifact, async ({ c, params: { workspace, runId } }) => {
    const path = artifactPathParam(c, limits)
    const artifact = await store.findArtifact({ workspace, runId, path })
    if (!artifact) {
      await store.getRun({ workspace, runId })
      throw new WharfError(
        'ARTIFACT_NOT_FOUND',
        `run "${runId}" has no artifact "${printable(path)}"; list them with GET .../runs/${runId}/artifacts`,
      )
    }
    const driver = await drivers.get(workspace, artifact.datastore)
    return storedFileResponse(c, { driver, file: artifact })
  })
}

/**
 * Streams a request body into the run's artifact `path` (already checked with `toDatastoreKey`) and
 * records it: the one way an artifact is uploaded, for the native and the MLflow API alike.
 * RUN_FINISHED for a run in a terminal status; PAYLOAD_TOO_LARGE past the artifactBytes limit.
 */
export async function storeRunArtifact(
  deps: Pick<AppDeps, 'store' | 'config' | 'drivers' | 'log'>,
  target: { c: AppContext; workspace: string; runId: string; path: string },
): Promise<Artifact> {
  const { store, config, drivers } = deps
  const { limits } = config
  const { c, workspace, runId, path } = target
  const run = await store.getRun({ workspace, runId })
  if (isTerminalStatus(run.status)) {
    throw new WharfError(
      'RUN_FINISHED',
      `run "${runId}" is ${run.status}; the artifacts of a finished run never change. Log to a new run instead`,
      { details: { status: run.status } },
    )
  }
  const declaredHeader = c.req.header('content-length')
  const declared = declaredHeader === undefined ? undefined : Number(declaredHeader)
  if (declared !== undefined) {
    assertWithinLimit(limits, 'artifactBytes', { what: 'the artifact size in bytes', actual: declared })
  }
  const ws = await store.getWorkspace(workspace)
  const driver = await drivers.get(workspace, ws.artifactDatastore)
  const body = requestBody(
    c,
    declared === undefined ? { cap: { max: limits.artifactBytes, tooLarge: () => tooLargeArtifact(limits.artifactBytes) } } : {},
  )
  // The first upload of a path goes to its plain key, and only if nothing is there (a conditional write);
  // a replacement, or a first upload that finds the key taken (an upload in flight, bytes a crash left),
  // goes to a key of its own. So no two uploads write one key (Azure would drop one's staged blocks),
  // the bytes a recorded artifact points at are never rewritten, and the record decides which upload
  // stays (decision 0016).
  const previous = await store.findArtifact({ workspace, runId, path })
  const plainKey = toDatastoreKey(artifactKey(runId, path))
  const isFirst = previous === undefined && (await driver.stat(plainKey)) === undefined
  const key = isFirst ? plainKey : toDatastoreKey(joinKey('ExperimentRun', runId, '.replaced', newRunId(), path))
  const contentType = contentTypeFor(path, c.req.header('content-type'))
  let stored: PutResult
  try {
    stored = await driver.put(key, body, {
      ...(declared !== undefined ? { size: declared } : {}),
      contentType,
      ifNotExists: isFirst,
    })
  } catch (error) {
    if (!(isFirst && isWharfError(error, 'FILE_EXISTS'))) throw error
    throw new WharfError(
      'FILE_EXISTS',
      `another upload of artifact "${printable(path)}" of run "${runId}" was stored at the same moment and this one was not kept; upload again to replace it`,
      { details: { path }, cause: error },
    )
  }
  const artifact: Artifact = {
    runId,
    path,
    size: stored.size,
    sha256: stored.sha256,
    contentType,
    createdAt: new Date().toISOString(),
    datastore: ws.artifactDatastore,
    key,
  }
  let recorded: RecordedArtifact
  try {
    recorded = await store.putArtifact({ workspace, artifact })
  } catch (error) {
    // Refused (the run finished meanwhile): remove the bytes unless a record points at them.
    const current = await store.findArtifact({ workspace, runId, path })
    if (current?.key !== key) await driver.delete(key).catch(() => undefined)
    throw error
  }
  // The store tells each replaced record to exactly one upload, on whichever replica: this one removes
  // its bytes, which nothing references now (assets copy from live runs).
  const { replaced } = recorded
  if (replaced && !(replaced.datastore === artifact.datastore && replaced.key === key)) {
    const old = await drivers.get(workspace, replaced.datastore)
    await old
      .delete(toDatastoreKey(replaced.key))
      .catch((error: unknown) => deps.log.warn('could not remove replaced artifact bytes', { key: replaced.key, error }))
  }
  return recorded.artifact
}
