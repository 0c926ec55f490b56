import { WharfError, isWharfError } from '@wharf/contract'
import { toDatastoreKey } from '@wharf/datastores'
import { storeRunArtifact } from '../routes/artifacts.js'
import { storedFileResponse } from '../routes/file-response.js'
import { artifactUriOf, modelArtifactPrefix } from './convert.js'
import { findRun, type MlflowRequest } from './context.js'
import { MlflowError, invalidParameter } from './errors.js'
import { ASSET_PROXY_ROOT, assetFilesAt } from './registry.js'
import { optionalString, runIdOf } from './wire.js'

/** A run artifact path (or folder, `''` for the root) an artifact proxy path names. */
interface ArtifactTarget {
  runId: string
  path: string
}

/** A path checked as Wharf checks artifact paths; INVALID_PARAMETER_VALUE for traversal and the like. */
function safePath(path: string): string {
  if (path === '') return ''
  try {
    return toDatastoreKey(path)
  } catch (error) {
    if (isWharfError(error)) throw invalidParameter(`Invalid artifact path: '${path}'. ${error.message}`)
    throw error
  }
}

/**
 * Reads a proxy path: `<experiment>/<run>/artifacts/<path>` for a run's artifacts, and
 * `<experiment>/models/<model>/artifacts/<path>` for a logged model's, which are its source run's
 * artifacts under `models/<model>/`.
 */
async function resolveProxyPath(r: MlflowRequest, raw: string): Promise<ArtifactTarget> {
  const segments = raw.split('/').filter((s, i, all) => s !== '' || i === all.length - 1)
  if (segments[1] === 'models' && segments[3] === 'artifacts' && segments[2] !== undefined) {
    const model = await r.deps.store.getLoggedModel({ workspace: r.workspace, id: segments[2] })
    if (model.sourceRunId === null) {
      throw new MlflowError(
        'NOT_IMPLEMENTED',
        `logged model ${model.id} has no source run; this server keeps model files with the run that logged them`,
      )
    }
    const rest = segments.slice(4).join('/')
    return {
      runId: model.sourceRunId,
      path: safePath(rest === '' ? modelArtifactPrefix(model.id) : `${modelArtifactPrefix(model.id)}/${rest}`),
    }
  }
  if (segments.length < 3 || segments[2] !== 'artifacts' || segments[1] === undefined) {
    throw new MlflowError(
      'RESOURCE_DOES_NOT_EXIST',
      `'${raw}' is not an artifact path of this server: use <experiment_id>/<run_id>/artifacts/<path> (a run's artifact_uri)`,
    )
  }
  return { runId: segments[1], path: safePath(segments.slice(3).join('/')) }
}

/** The file and folder entries directly under `folder` of a run's artifacts, by name. */
async function listFolder(r: MlflowRequest, target: ArtifactTarget): Promise<{ name: string; isDir: boolean; size?: number }[]> {
  const prefix = target.path === '' ? '' : `${target.path}/`
  const files: { path: string; size: number }[] = []
  let pageToken: string | undefined
  do {
    const page = await r.deps.store.listArtifacts({
      workspace: r.workspace,
      runId: target.runId,
      ...(prefix !== '' ? { prefix } : {}),
      pageSize: r.deps.config.limits.pageSize,
      ...(pageToken !== undefined ? { pageToken } : {}),
    })
    files.push(...page.items)
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  return childrenOf(files, target.path)
}

function fileInfo(entry: { name: string; isDir: boolean; size?: number }, parent: string): Record<string, unknown> {
  return {
    path: parent === '' ? entry.name : `${parent}/${entry.name}`,
    is_dir: entry.isDir,
    ...(entry.size !== undefined ? { file_size: entry.size } : {}),
  }
}

/** artifacts/list of the tracking API: paths relative to the run's artifact root. */
export async function listRunArtifacts(r: MlflowRequest): Promise<unknown> {
  const run = await findRun(r, runIdOf(r.fields))
  const path = safePath((optionalString(r.fields, 'path') ?? '').replace(/^\/+|\/+$/g, ''))
  const entries = await listFolder(r, { runId: run.id, path })
  return {
    root_uri: artifactUriOf(run, await r.experiments.idOfRun(run)),
    ...(entries.length > 0 ? { files: entries.map((entry) => fileInfo(entry, path)) } : {}),
  }
}

/** The entries directly under a folder of paths, by name. */
function childrenOf(
  paths: readonly { path: string; size: number }[],
  folder: string,
): { name: string; isDir: boolean; size?: number }[] {
  const prefix = folder === '' ? '' : `${folder}/`
  const entries = new Map<string, { name: string; isDir: boolean; size?: number }>()
  for (const file of paths) {
    if (!file.path.startsWith(prefix)) continue
    const rest = file.path.slice(prefix.length)
    const slash = rest.indexOf('/')
    if (slash < 0) entries.set(rest, { name: rest, isDir: false, size: file.size })
    else entries.set(rest.slice(0, slash), { name: rest.slice(0, slash), isDir: true })
  }
  return [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

const ASSET_MARK = `${ASSET_PROXY_ROOT}/`

/** GET mlflow-artifacts/artifacts?path=…: the entries of a folder, by name (as MLflow's proxy answers). */
export async function listProxyArtifacts(r: MlflowRequest): Promise<unknown> {
  const raw = (optionalString(r.fields, 'path') ?? '').replace(/^\/+|\/+$/g, '')
  if (raw.startsWith(ASSET_MARK)) {
    const { version, path } = await assetFilesAt(r, raw.slice(ASSET_MARK.length))
    const entries = childrenOf(version.files, path)
    return entries.length > 0 ? { files: entries.map((entry) => fileInfo(entry, '')) } : {}
  }
  const target = await resolveProxyPath(r, raw)
  await findRun(r, target.runId)
  const entries = await listFolder(r, target)
  return entries.length > 0 ? { files: entries.map((entry) => fileInfo(entry, '')) } : {}
}

/** GET mlflow-artifacts/artifacts/<path>: the file's bytes. */
export async function downloadProxyArtifact(r: MlflowRequest, raw: string): Promise<Response> {
  if (raw.startsWith(ASSET_MARK)) {
    const { version, path } = await assetFilesAt(r, raw.slice(ASSET_MARK.length))
    const file = version.files.find((f) => f.path === path)
    if (file === undefined) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No artifact at '${raw}'`)
    const driver = await r.deps.drivers.get(r.workspace, file.datastore)
    return storedFileResponse(r.c, { driver, file })
  }
  const target = await resolveProxyPath(r, raw)
  const artifact = await r.deps.store.findArtifact({ workspace: r.workspace, runId: target.runId, path: target.path })
  if (artifact === undefined) {
    await findRun(r, target.runId)
    throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No artifact at '${raw}'`)
  }
  const driver = await r.deps.drivers.get(r.workspace, artifact.datastore)
  const response = await storedFileResponse(r.c, { driver, file: artifact })
  response.headers.set('x-content-type-options', 'nosniff')
  return response
}

/** PUT mlflow-artifacts/artifacts/<path>: stores the body as the run's artifact. */
export async function uploadProxyArtifact(r: MlflowRequest, raw: string): Promise<unknown> {
  if (raw.startsWith(ASSET_MARK)) throw invalidParameter('the files of a model version are read-only')
  const target = await resolveProxyPath(r, raw)
  if (target.path === '') throw invalidParameter('an artifact upload needs a file path after artifacts/')
  await findRun(r, target.runId)
  try {
    await storeRunArtifact(r.deps, { c: r.c, workspace: r.workspace, runId: target.runId, path: target.path })
  } catch (error) {
    if (isWharfError(error, 'RUN_FINISHED')) {
      throw new WharfError('RUN_FINISHED', `${error.message} (runs logged through MLflow take artifacts until they end)`, {
        cause: error,
      })
    }
    throw error
  }
  return {}
}
