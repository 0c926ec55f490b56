import { isWharfError, type AssetVersion } from '@wharf/contract'
import { toDatastoreKey } from '@wharf/datastores'
import { promoteRunArtifacts } from '../routes/assets.js'
import { modelArtifactPrefix } from './convert.js'
import type { MlflowRequest } from './context.js'
import { MlflowError, invalidParameter } from './errors.js'
import { matches, parseFilter, sortItems, type SearchSchema, type Searchable } from './search.js'
import {
  MLFLOW_LIMITS,
  decodeOffsetToken,
  encodeOffsetToken,
  keyValues,
  msOf,
  objectList,
  optionalInteger,
  optionalString,
  requiredString,
  type RequestFields,
} from './wire.js'

/** Asset tags that keep what MLflow sent when the version was made; not shown as the version's tags. */
const SOURCE_TAG = 'mlflow.registry.source'
const MODEL_ID_TAG = 'mlflow.registry.modelId'

/** The artifact proxy folder that serves an asset version's files (read-only). */
export const ASSET_PROXY_ROOT = '_assets'

const REGISTERED_MODEL_SEARCH: SearchSchema = {
  what: 'registered model',
  kinds: ['attribute', 'tag'],
  stringAttributes: ['name'],
  numberAttributes: [],
  missingMeetsNotEqual: true,
}

const MODEL_VERSION_SEARCH: SearchSchema = {
  what: 'model version',
  kinds: ['attribute', 'tag'],
  stringAttributes: ['name', 'run_id', 'source', 'version_number'],
  numberAttributes: [],
  missingMeetsNotEqual: true,
}

/** The folder inside an asset version that holds the model: the last segment of the promoted path. */
function modelFolder(version: AssetVersion): string {
  return version.artifactPath.slice(version.artifactPath.lastIndexOf('/') + 1)
}

function modelVersionJson(version: AssetVersion): Record<string, unknown> {
  const tags = Object.fromEntries(Object.entries(version.tags).filter(([key]) => key !== SOURCE_TAG && key !== MODEL_ID_TAG))
  const modelId = version.tags[MODEL_ID_TAG]
  const list = keyValues(tags)
  return {
    name: version.name,
    version: String(version.version),
    creation_timestamp: msOf(version.createdAt),
    last_updated_timestamp: msOf(version.createdAt),
    current_stage: 'None',
    description: version.description,
    source: version.tags[SOURCE_TAG] ?? `runs:/${version.sourceRunId}/${version.artifactPath}`,
    run_id: version.sourceRunId,
    status: 'READY',
    ...(list.length > 0 ? { tags: list } : {}),
    ...(modelId !== undefined ? { model_id: modelId } : {}),
  }
}

function registeredModelJson(latest: AssetVersion, first: { createdAt: string }): Record<string, unknown> {
  return {
    name: latest.name,
    creation_timestamp: msOf(first.createdAt),
    last_updated_timestamp: msOf(latest.createdAt),
    latest_versions: [modelVersionJson(latest)],
  }
}

function noModel(name: string): MlflowError {
  return new MlflowError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`)
}

async function versionsOf(r: MlflowRequest, name: string): Promise<AssetVersion[]> {
  const versions: AssetVersion[] = []
  let pageToken: string | undefined
  try {
    do {
      const page = await r.deps.store.listAssetVersions({
        workspace: r.workspace,
        name,
        pageSize: r.deps.config.limits.pageSize,
        ...(pageToken !== undefined ? { pageToken } : {}),
      })
      versions.push(...page.items)
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) return []
    throw error
  }
  return versions
}

async function allAssetNames(r: MlflowRequest): Promise<string[]> {
  const names: string[] = []
  let pageToken: string | undefined
  do {
    const page = await r.deps.store.listAssets({
      workspace: r.workspace,
      pageSize: r.deps.config.limits.pageSize,
      ...(pageToken !== undefined ? { pageToken } : {}),
    })
    names.push(...page.items.map((item) => item.name))
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  return names
}

async function getVersion(r: MlflowRequest, name: string, version: string): Promise<AssetVersion> {
  const number = /^[1-9]\d{0,14}$/.test(version) ? Number(version) : NaN
  if (!Number.isSafeInteger(number)) throw invalidParameter(`Model version must be an integer, got '${version}'`)
  try {
    return await r.deps.store.getAssetVersion({ workspace: r.workspace, name, version: number })
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Model Version (name=${name}, version=${version}) not found`)
    }
    throw error
  }
}

/**
 * registered-models/create. A registered model is an asset, which exists from its first version: this
 * checks the name is free and answers the model; its versions make it.
 */
export async function createRegisteredModel(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  // A registered model is its asset, which exists from its first version on: there is nowhere to keep
  // a description or tags given before, so they are refused rather than dropped.
  const description = optionalString(r.fields, 'description')
  if ((description !== undefined && description !== '') || objectList(r.fields, 'tags').length > 0) {
    throw new MlflowError(
      'NOT_IMPLEMENTED',
      'This server keeps no description or tags on a registered model; create it without them (version tags are kept)',
    )
  }
  if ((await versionsOf(r, name)).length > 0) {
    throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`)
  }
  const now = Date.now()
  return { registered_model: { name, creation_timestamp: now, last_updated_timestamp: now } }
}

/** registered-models/get */
export async function getRegisteredModel(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const versions = await versionsOf(r, name)
  const latest = versions[0]
  const first = versions.at(-1)
  if (latest === undefined || first === undefined) throw noModel(name)
  return { registered_model: registeredModelJson(latest, first) }
}

/** registered-models/get-latest-versions: the newest version (stages are not kept). */
export async function getLatestVersions(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const latest = (await versionsOf(r, name))[0]
  if (latest === undefined) throw noModel(name)
  return { model_versions: [modelVersionJson(latest)] }
}

/** registered-models/search: by name. */
export async function searchRegisteredModels(r: MlflowRequest): Promise<unknown> {
  const maxResults = optionalInteger(r.fields, 'max_results') ?? 100
  if (maxResults < 1 || maxResults > MLFLOW_LIMITS.registryPageMax) {
    throw invalidParameter(`max_results must be between 1 and ${MLFLOW_LIMITS.registryPageMax}`)
  }
  const clauses = parseFilter(optionalString(r.fields, 'filter'), REGISTERED_MODEL_SEARCH)
  const offset = decodeOffsetToken(optionalString(r.fields, 'page_token'))
  const names = (await allAssetNames(r)).filter((name) =>
    matches({ attributes: { name }, tags: {} }, clauses, REGISTERED_MODEL_SEARCH),
  )
  const page = names.slice(offset, offset + maxResults)
  const models = []
  for (const name of page) {
    const versions = await versionsOf(r, name)
    const latest = versions[0]
    const first = versions.at(-1)
    if (latest !== undefined && first !== undefined) models.push(registeredModelJson(latest, first))
  }
  return {
    ...(models.length > 0 ? { registered_models: models } : {}),
    ...(offset + maxResults < names.length ? { next_page_token: encodeOffsetToken(offset + maxResults) } : {}),
  }
}

/** The run and artifact path a model version's source names. */
async function resolveSource(
  r: MlflowRequest,
  fields: RequestFields,
): Promise<{ runId: string; path: string; modelId?: string }> {
  const source = requiredString(fields, 'source')
  const modelIdField = optionalString(fields, 'model_id')
  const fromModel = async (modelId: string) => {
    const model = await r.deps.store.getLoggedModel({ workspace: r.workspace, id: modelId })
    if (model.sourceRunId === null) {
      throw new MlflowError(
        'NOT_IMPLEMENTED',
        `logged model ${modelId} has no source run; this server keeps model files with their run`,
      )
    }
    return { runId: model.sourceRunId, path: modelArtifactPrefix(model.id), modelId: model.id }
  }
  let match = /^models:\/(m-[0-9a-f]+)\/?$/.exec(source)
  if (match?.[1] !== undefined) return fromModel(match[1])
  match = /^mlflow-artifacts:\/+[^/]+\/models\/(m-[0-9a-f]+)\/artifacts\/?$/.exec(source)
  if (match?.[1] !== undefined) return fromModel(match[1])
  match = /^runs:\/([^/]+)\/(.+?)\/?$/.exec(source) ?? /^mlflow-artifacts:\/+[^/]+\/([^/]+)\/artifacts\/(.+?)\/?$/.exec(source)
  if (match?.[1] !== undefined && match[2] !== undefined) {
    // MLflow 3 registers `runs:/<run>/<name>` of a logged model: its files are the model's.
    if (modelIdField !== undefined && modelIdField !== '') return fromModel(modelIdField)
    return { runId: match[1], path: match[2] }
  }
  if (modelIdField !== undefined && modelIdField !== '') return fromModel(modelIdField)
  throw invalidParameter(
    `Unsupported model version source '${source}': use models:/<model_id>, runs:/<run_id>/<path> or the run's mlflow-artifacts URI`,
  )
}

/** model-versions/create: promotes the source's files to the next version of the asset. */
export async function createModelVersion(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const source = requiredString(r.fields, 'source')
  const { runId, path, modelId } = await resolveSource(r, r.fields)
  const tags: Record<string, string> = { [SOURCE_TAG]: source, ...(modelId !== undefined ? { [MODEL_ID_TAG]: modelId } : {}) }
  for (const tag of objectList(r.fields, 'tags')) tags[requiredString(tag, 'key')] = optionalString(tag, 'value') ?? ''
  let artifactPath: string
  try {
    artifactPath = toDatastoreKey(path)
  } catch {
    throw invalidParameter(`Invalid model version source path '${path}'`)
  }
  try {
    const version = await promoteRunArtifacts(r.deps, {
      workspace: r.workspace,
      name,
      runId,
      artifactPath,
      description: optionalString(r.fields, 'description') ?? '',
      tags,
    })
    return { model_version: modelVersionJson(version) }
  } catch (error) {
    if (isWharfError(error, 'RUN_NOT_FOUND')) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`)
    if (isWharfError(error, 'ARTIFACT_NOT_FOUND')) {
      throw invalidParameter(`No model files at '${source}' (run ${runId}, path '${path}'); log the model before registering it`)
    }
    throw error
  }
}

/** model-versions/get */
export async function getModelVersion(r: MlflowRequest): Promise<unknown> {
  return {
    model_version: modelVersionJson(await getVersion(r, requiredString(r.fields, 'name'), requiredString(r.fields, 'version'))),
  }
}

/** model-versions/get-download-uri: the version's files through the artifact proxy. */
export async function getModelVersionDownloadUri(r: MlflowRequest): Promise<unknown> {
  const version = await getVersion(r, requiredString(r.fields, 'name'), requiredString(r.fields, 'version'))
  const folder = modelFolder(version)
  return {
    artifact_uri: `mlflow-artifacts:/${ASSET_PROXY_ROOT}/${encodeURIComponent(version.name)}/${version.version}/${folder}`,
  }
}

/** The most model versions one search answers (MLflow's threshold). */
const MODEL_VERSIONS_MAX = 200_000

/** model-versions/search: by name, run id and source. */
export async function searchModelVersions(r: MlflowRequest): Promise<unknown> {
  const maxResults = optionalInteger(r.fields, 'max_results') ?? 10_000
  if (maxResults < 1 || maxResults > MODEL_VERSIONS_MAX) {
    throw invalidParameter(
      `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be between 1 and ${MODEL_VERSIONS_MAX}`,
    )
  }
  const clauses = parseFilter(optionalString(r.fields, 'filter'), MODEL_VERSION_SEARCH)
  const offset = decodeOffsetToken(optionalString(r.fields, 'page_token'))
  const named = clauses.find((c) => c.kind === 'attribute' && c.key === 'name' && c.comparator === '=')
  const names = named !== undefined ? [String(named.value)] : await allAssetNames(r)
  const searchable = (v: AssetVersion): Searchable => {
    const json = modelVersionJson(v)
    return {
      attributes: { name: v.name, run_id: v.sourceRunId, source: json.source as string, version_number: String(v.version) },
      tags: v.tags,
    }
  }
  const found: AssetVersion[] = []
  for (const name of names)
    found.push(...(await versionsOf(r, name)).filter((v) => matches(searchable(v), clauses, MODEL_VERSION_SEARCH)))
  const sorted = sortItems(found, {
    order: [],
    of: searchable,
    tiebreak: (a, b) => (a.name === b.name ? b.version - a.version : a.name < b.name ? -1 : 1),
  })
  const page = sorted.slice(offset, offset + maxResults)
  return {
    ...(page.length > 0 ? { model_versions: page.map(modelVersionJson) } : {}),
    ...(offset + maxResults < sorted.length ? { next_page_token: encodeOffsetToken(offset + maxResults) } : {}),
  }
}

/** Registry changes Wharf's assets do not take: versions are immutable and kept. */
export function unsupportedRegistryChange(what: string): (r: MlflowRequest) => Promise<unknown> {
  return () =>
    Promise.reject(
      new MlflowError(
        'NOT_IMPLEMENTED',
        `${what} is not supported: registered models are Wharf assets, whose versions are immutable and kept`,
      ),
    )
}

/** The asset file an `_assets/<name>/<version>/<path>` proxy path names, for downloads and listings. */
export async function assetFilesAt(r: MlflowRequest, rest: string): Promise<{ version: AssetVersion; path: string }> {
  const [name = '', versionText = '', ...path] = rest.split('/')
  const version = await getVersion(r, name, versionText)
  return { version, path: path.join('/') }
}
