import type { Hono } from 'hono'
import mime from 'mime-types'
import {
  ListArtifactsQuerySchema,
  ROUTES,
  WharfError,
  assertWithinLimit,
  isTerminalStatus,
  printable,
  type Artifact,
  type Limits,
} from '@wharf/contract'
import { joinKey, toDatastoreKey, toKeyPrefix } from '@wharf/datastores'
import type { AppDeps } from '../deps.js'
import { readQuery, requestBody, workspaceParam, type AppContext, type AppEnv } from '../http.js'
import { pathAfter, storedFileResponse } from './file-response.js'
import { pageSizeOf } from './paging.js'
import { newRunId, runIdParam } from './runs.js'

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
export function mountArtifactRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  app.get(ROUTES.listArtifacts.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const query = readQuery(c, ListArtifactsQuerySchema)
    const prefix = query.prefix === undefined || query.prefix === '' ? undefined : toKeyPrefix(query.prefix)
    return c.json(
      await store.listArtifacts(workspace, runId, {
        ...(prefix !== undefined ? { prefix } : {}),
        pageSize: pageSizeOf(query, limits),
        pageToken: query.pageToken,
      }),
    )
  })

  app.put(ROUTES.uploadArtifact.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const path = artifactPathParam(c, limits)
    const run = await store.getRun(workspace, runId)
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
    const body = requestBody(c, declared === undefined ? { cap: { max: limits.artifactBytes, tooLarge: () => tooLargeArtifact(limits.artifactBytes) } } : {})
    // A replacement goes to a key of its own: the bytes a recorded artifact points at are never
    // rewritten, so a run that finishes while this upload streams keeps exactly what it recorded.
    const previous = await store.findArtifact(workspace, runId, path)
    const key = toDatastoreKey(previous ? joinKey('ExperimentRun', runId, '.replaced', newRunId(), path) : artifactKey(runId, path))
    const contentType = contentTypeFor(path, c.req.header('content-type'))
    const stored = await driver.put(key, body, {
      ...(declared !== undefined ? { size: declared } : {}),
      contentType,
    })
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
    let recorded: Artifact
    try {
      recorded = await store.putArtifact(workspace, artifact)
    } catch (error) {
      // Refused (the run finished meanwhile): remove the bytes unless a record points at them.
      const current = await store.findArtifact(workspace, runId, path)
      if (current?.key !== key) await driver.delete(key).catch(() => undefined)
      throw error
    }
    // A live run's replaced bytes are referenced by nothing (assets copy from live runs).
    if (previous && previous.key !== key) {
      const old = await drivers.get(workspace, previous.datastore)
      await old.delete(toDatastoreKey(previous.key)).catch((error: unknown) => deps.log.warn('could not remove replaced artifact bytes', { key: previous.key, error }))
    }
    return c.json(recorded, 201)
  })

  app.get(ROUTES.downloadArtifact.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const path = artifactPathParam(c, limits)
    const artifact = await store.findArtifact(workspace, runId, path)
    if (!artifact) {
      await store.getRun(workspace, runId)
      throw new WharfError(
        'ARTIFACT_NOT_FOUND',
        `run "${runId}" has no artifact "${printable(path)}"; list them with GET .../runs/${runId}/artifacts`,
      )
    }
    const driver = await drivers.get(workspace, artifact.datastore)
    return storedFileResponse(c, { driver, file: artifact })
  })
}
