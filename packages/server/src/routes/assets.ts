import type { Hono } from 'hono'
import { monotonicFactory } from 'ulid'
import {
  NAME_RULES,
  PageQuerySchema,
  PromoteAssetSchema,
  ROUTES,
  WharfError,
  assertName,
  assertWithinLimit,
  isTerminalStatus,
  printable,
  type Artifact,
  type AssetFile,
  type NameRule,
} from '@wharf/contract'
import { joinKey, runPool, toDatastoreKey } from '@wharf/datastores'
import type { AppDeps } from '../deps.js'
import { param, readJson, readQuery, workspaceParam, type AppContext, type AppEnv } from '../http.js'
import { pathAfter, storedFileResponse } from './file-response.js'
import { pageSizeOf } from './paging.js'
import { assertKeyValues } from './runs.js'

/** Asset names follow the experiment naming rule, but errors should call them asset names. */
const ASSET_NAME_RULE: NameRule = { ...NAME_RULES.experiment, kind: 'asset name' }

const FILES_MARK = '/files/'
/** Artifacts read per store call while collecting what a promote takes. */
const ARTIFACT_PAGE = 1000
/** Files copied at once when promoting from a live run. */
const COPY_CONCURRENCY = 8

const newUlid = monotonicFactory()

/** The `:asset` path parameter, validated. */
function assetParam(c: AppContext): string {
  const name = param(c, 'asset')
  assertName(name, ASSET_NAME_RULE)
  return name
}

/** The `:version` path parameter: a positive integer or `latest`. */
function versionParam(c: AppContext): number | 'latest' {
  const raw = param(c, 'version')
  if (raw === 'latest') return raw
  const version = /^[1-9][0-9]{0,14}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(version)) {
    throw new WharfError('INVALID_ARGUMENT', `asset version "${printable(raw)}" is not valid: use a number from 1, or latest`, {
      details: { field: 'version', value: printable(raw) },
    })
  }
  return version
}

/** Every artifact of the run that is `artifactPath` itself or lies in the folder `artifactPath/`. */
async function artifactsAt(
  deps: Pick<AppDeps, 'store'>,
  target: { workspace: string; runId: string; artifactPath: string },
): Promise<Artifact[]> {
  const { workspace, runId, artifactPath } = target
  const found: Artifact[] = []
  let pageToken: string | undefined
  do {
    const page = await deps.store.listArtifacts(workspace, runId, { prefix: artifactPath, pageSize: ARTIFACT_PAGE, pageToken })
    // The string prefix also matches siblings such as `model.pkl.bak` for `model.pkl`.
    found.push(...page.items.filter((a) => a.path === artifactPath || a.path.startsWith(`${artifactPath}/`)))
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  return found
}

/**
 * Copies the files of a live run into the workspace's artifact datastore under `Assets/<name>/<copy id>/`,
 * streaming each one; the asset then points at bytes nothing else writes. A failed copy removes what it
 * wrote. The folder is a fresh id rather than the version number, because the version is only assigned
 * when the copy is recorded, and two promotes of one name racing for the same version must never write
 * the same keys.
 */
async function copyFiles(
  deps: Pick<AppDeps, 'store' | 'drivers'>,
  promote: { workspace: string; name: string; files: { path: string; artifact: Artifact }[] },
): Promise<AssetFile[]> {
  const { workspace, name, files } = promote
  const ws = await deps.store.getWorkspace(workspace)
  const target = await deps.drivers.get(workspace, ws.artifactDatastore)
  const folder = joinKey('Assets', name, newUlid().toLowerCase())
  const copied: AssetFile[] = []
  try {
    // The first failure stops new copies; once the running ones settle, everything copied is removed.
    await runPool(files, { concurrency: COPY_CONCURRENCY }, async ({ path, artifact }) => {
      const source = await deps.drivers.get(workspace, artifact.datastore)
      const key = joinKey(folder, path)
      const body = await source.get(toDatastoreKey(artifact.key))
      // Digest and size come from the copy itself: the run may have replaced the artifact meanwhile.
      const stored = await target.put(key, body, { contentType: artifact.contentType })
      copied.push({ path, size: stored.size, sha256: stored.sha256, contentType: artifact.contentType, datastore: ws.artifactDatastore, key })
    })
  } catch (error) {
    await Promise.allSettled(copied.map((file) => target.delete(toDatastoreKey(file.key))))
    throw error
  }
  return copied
}

/** Assets: promote a run's artifacts to a numbered version; list, read and download versions. */
export function mountAssetRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  app.post(ROUTES.promoteAsset.path, async (c) => {
    const workspace = workspaceParam(c)
    const body = await readJson(c, PromoteAssetSchema, limits.jsonBodyBytes)
    assertName(body.name, ASSET_NAME_RULE)
    assertName(body.runId, NAME_RULES.runId)
    const description = body.description ?? ''
    assertWithinLimit(limits, 'descriptionLength', { what: 'description length', actual: description.length })
    const tags = body.tags ?? {}
    assertWithinLimit(limits, 'tagsPerRun', { what: 'the number of tags', actual: Object.keys(tags).length })
    assertKeyValues('tag', tags, limits)
    assertWithinLimit(limits, 'artifactPathLength', { what: 'the artifact path length', actual: body.artifactPath.length })
    const artifactPath = toDatastoreKey(body.artifactPath)
    const run = await store.getRun(workspace, body.runId)

    const artifacts = await artifactsAt(deps, { workspace, runId: run.id, artifactPath })
    if (artifacts.length === 0) {
      throw new WharfError(
        'ARTIFACT_NOT_FOUND',
        `run ${run.id} has no artifact at ${printable(artifactPath)} (neither a file nor a folder); ` +
          `wharf history info -r ${run.id} lists them`,
        { details: { runId: run.id, artifactPath } },
      )
    }
    // Paths inside the asset keep the last segment of artifactPath: `outputs/ckpt` gives `ckpt/a.pt`.
    const parent = artifactPath.lastIndexOf('/') + 1
    const files = artifacts.map((artifact) => ({ path: artifact.path.slice(parent), artifact }))
    // A finished run's artifacts never change, so the asset can share them; a live run's may.
    const live = !isTerminalStatus(run.status)
    const assetFiles = live
      ? await copyFiles(deps, { workspace, name: body.name, files })
      : files.map(
          ({ path, artifact }): AssetFile => ({
            path,
            size: artifact.size,
            sha256: artifact.sha256,
            contentType: artifact.contentType,
            datastore: artifact.datastore,
            key: artifact.key,
          }),
        )
    const version = await store.createAssetVersion({
      workspace,
      name: body.name,
      description,
      tags,
      sourceRunId: run.id,
      artifactPath,
      copied: live,
      createdAt: new Date().toISOString(),
      files: assetFiles,
    })
    return c.json(version, 201)
  })

  app.get(ROUTES.listAssets.path, async (c) => {
    const workspace = workspaceParam(c)
    const query = readQuery(c, PageQuerySchema)
    return c.json(await store.listAssets(workspace, { pageSize: pageSizeOf(query, limits), pageToken: query.pageToken }))
  })

  app.get(ROUTES.listAssetVersions.path, async (c) => {
    const workspace = workspaceParam(c)
    const name = assetParam(c)
    const query = readQuery(c, PageQuerySchema)
    return c.json(
      await store.listAssetVersions(workspace, name, { pageSize: pageSizeOf(query, limits), pageToken: query.pageToken }),
    )
  })

  app.get(ROUTES.getAssetVersion.path, async (c) => {
    const workspace = workspaceParam(c)
    return c.json(await store.getAssetVersion(workspace, assetParam(c), versionParam(c)))
  })

  app.get(ROUTES.downloadAssetFile.path, async (c) => {
    const workspace = workspaceParam(c)
    const name = assetParam(c)
    const versionAsked = versionParam(c)
    const path = pathAfter(c, { mark: FILES_MARK, what: 'asset file path', limits })
    const version = await store.getAssetVersion(workspace, name, versionAsked)
    const file = version.files.find((f) => f.path === path)
    if (!file) {
      throw new WharfError(
        'FILE_NOT_FOUND',
        `version ${version.version} of asset "${printable(name)}" has no file "${printable(path)}"; ` +
          `wharf asset show ${printable(name)}:${version.version} lists its files`,
        { details: { asset: name, version: version.version, path } },
      )
    }
    return storedFileResponse(c, { driver: await drivers.get(workspace, file.datastore), file })
  })
}
