import { monotonicFactory } from 'ulid'
import {
  NAME_RULES,
  ROUTES,
  WharfError,
  assertName,
  assertWithinLimit,
  isTerminalStatus,
  printable,
  type Artifact,
  type AssetFile,
  type AssetVersion,
} from '@wharf/contract'
import { joinKey, runPool, toDatastoreKey } from '@wharf/datastores'
import type { AppDeps } from '../deps.js'
import { ASSET_NAME_RULE, type BindRoute } from '../route.js'
import { pathAfter, storedFileResponse } from './file-response.js'
import { pageSizeOf } from './paging.js'
import { assertNoRegistryTags } from '../registry-tags.js'
import { assertKeyValues } from './runs.js'

const FILES_MARK = '/files/'
/** Artifacts read per store call while collecting what a promote takes. */
const ARTIFACT_PAGE = 1000
/** Files copied at once when promoting from a live run. */
const COPY_CONCURRENCY = 8

const newUlid = monotonicFactory()

/** Every artifact of the run that is `artifactPath` itself or lies in the folder `artifactPath/`. */
async function artifactsAt(
  deps: Pick<AppDeps, 'store'>,
  target: { workspace: string; runId: string; artifactPath: string },
): Promise<Artifact[]> {
  const { workspace, runId, artifactPath } = target
  const found: Artifact[] = []
  let pageToken: string | undefined
  do {
    const page = await deps.store.listArtifacts({ workspace, runId, prefix: artifactPath, pageSize: ARTIFACT_PAGE, pageToken })
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
      copied.push({
        path,
        size: stored.size,
        sha256: stored.sha256,
        contentType: artifact.contentType,
        datastore: ws.artifactDatastore,
        key,
      })
    })
  } catch (error) {
    await Promise.allSettled(copied.map((file) => target.delete(toDatastoreKey(file.key))))
    throw error
  }
  return copied
}

/** Assets: promote a run's artifacts to a numbered version; list, read and download versions. */
export function mountAssetRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  route(ROUTES.promoteAsset, async ({ params: { workspace }, body }) => {
    assertName(body.name, ASSET_NAME_RULE)
    assertName(body.runId, NAME_RULES.runId)
    const description = body.description ?? ''
    assertWithinLimit(limits, 'descriptionLength', { what: 'description length', actual: description.length })
    const tags = body.tags ?? {}
    assertWithinLimit(limits, 'tagsPerRun', { what: 'the number of tags', actual: Object.keys(tags).length })
    assertKeyValues('tag', tags, limits)
    assertNoRegistryTags(Object.keys(tags))
    assertWithinLimit(limits, 'artifactPathLength', { what: 'the artifact path length', actual: body.artifactPath.length })
    const artifactPath = toDatastoreKey(body.artifactPath)
    return promoteRunArtifacts(deps, { workspace, name: body.name, runId: body.runId, artifactPath, description, tags })
  })

  route(ROUTES.listAssets, async ({ params: { workspace }, query }) =>
    store.listAssets({ workspace, pageSize: pageSizeOf(query, limits), pageToken: query.pageToken }),
  )

  route(ROUTES.listAssetVersions, async ({ params: { workspace, asset }, query }) =>
    store.listAssetVersions({ workspace, name: asset, pageSize: pageSizeOf(query, limits), pageToken: query.pageToken }),
  )

  route(ROUTES.getAssetVersion, async ({ params: { workspace, asset, version } }) =>
    store.getAssetVersion({ workspace, name: asset, version }),
  )

  route(ROUTES.updateAssetVersion, async ({ params: { workspace, asset, version }, body }) => {
    if (body.description !== undefined) {
      assertWithinLimit(limits, 'descriptionLength', { what: 'description length', actual: body.description.length })
    }
    const setTags = body.tags?.set ?? {}
    const removeTags = body.tags?.remove ?? []
    assertKeyValues('tag', setTags, limits)
    assertNoRegistryTags([...Object.keys(setTags), ...removeTags])
    // An alias or `latest` is resolved inside the edit's transaction: a move meanwhile is not missed.
    return store.updateAssetVersion({
      workspace,
      name: asset,
      version,
      ...(body.description !== undefined ? { description: body.description } : {}),
      setTags,
      removeTags,
      maxTags: limits.tagsPerRun,
    })
  })

  route(ROUTES.listAssetAliases, async ({ params: { workspace, asset } }) => ({
    items: await store.listAssetAliases({ workspace, name: asset }),
  }))

  route(ROUTES.setAssetAlias, async ({ c, params: { workspace, asset, alias }, body }) => {
    // A run token names what its run made, and never repoints another run's version (checked by the
    // store in the same transaction as the change).
    const claims = c.get('runToken')
    return store.setAssetAlias({
      workspace,
      name: asset,
      alias,
      version: body.version,
      updatedAt: new Date().toISOString(),
      maxAliases: limits.aliasesPerAsset,
      ...(claims !== undefined ? { ownerRunId: claims.runId } : {}),
    })
  })

  route(ROUTES.deleteAssetAlias, async ({ params: { workspace, asset, alias } }) => ({
    name: asset,
    alias,
    deleted: await store.deleteAssetAlias({ workspace, name: asset, alias }),
  }))

  route(ROUTES.downloadAssetFile, async ({ c, params: { workspace, asset: name, version: versionAsked } }) => {
    const path = pathAfter(c, { mark: FILES_MARK, what: 'asset file path', limits })
    const version = await store.getAssetVersion({ workspace, name, version: versionAsked })
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

/**
 * Promotes a run's artifact (a file, or a folder and everything under it) to the next version of asset
 * `name`: the one way an asset version is made from a run, for the native and the MLflow API alike. A
 * live run's files are copied, a finished run's shared. ARTIFACT_NOT_FOUND when nothing is at the path.
 */
export async function promoteRunArtifacts(
  deps: Pick<AppDeps, 'store' | 'drivers' | 'config'>,
  promote: {
    workspace: string
    name: string
    runId: string
    artifactPath: string
    description: string
    tags: Record<string, string>
  },
): Promise<AssetVersion> {
  const { store } = deps
  const { workspace, artifactPath, description, tags } = promote
  const run = await store.getRun({ workspace, runId: promote.runId })

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
    ? await copyFiles(deps, { workspace, name: promote.name, files })
    : files.map(({ path, artifact }): AssetFile => ({
        path,
        size: artifact.size,
        sha256: artifact.sha256,
        contentType: artifact.contentType,
        datastore: artifact.datastore,
        key: artifact.key,
      }))
  const version = await store.createAssetVersion({
    workspace,
    name: promote.name,
    description,
    tags,
    sourceRunId: run.id,
    artifactPath,
    copied: live,
    createdAt: new Date().toISOString(),
    files: assetFiles,
  })
  return version
}
