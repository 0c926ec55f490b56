import { NAME_RULES, REGISTRY_TAGS, assertWithinLimit, isWharfError, type AssetAlias, type AssetVersion } from '@wharf/contract'
import { toDatastoreKey } from '@wharf/datastores'
import { promoteRunArtifacts } from '../routes/assets.js'
import { modelArtifactPrefix } from './convert.js'
import type { MlflowRequest } from './context.js'
import { MlflowError, invalidParameter } from './errors.js'
import { matches, parseFilter, sortItems, type SearchSchema, type Searchable } from './search.js'
import {
  MLFLOW_LIMITS,
  assertKey,
  assertValueLength,
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
const SOURCE_TAG = REGISTRY_TAGS.source
const MODEL_ID_TAG = REGISTRY_TAGS.modelId
/** The internal tags by key, with the model version field each one holds. */
const INTERNAL_TAGS: ReadonlyMap<string, string> = new Map([
  [SOURCE_TAG, 'source'],
  [MODEL_ID_TAG, 'model_id'],
])

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

/** A version's tags as MLflow shows (and searches) them: without the internal ones. */
function visibleTags(version: AssetVersion): Record<string, string> {
  return Object.fromEntries(Object.entries(version.tags).filter(([key]) => !INTERNAL_TAGS.has(key)))
}

/**
 * Checks a model version tag key as MLflow does (its characters, a relative path, at most 250) and
 * refuses the internal keys, so that a version's `source` and `model_id` cannot be overwritten or lost.
 */
function assertVersionTagKey(key: unknown): asserts key is string {
  assertKey(key, 'tag')
  const field = INTERNAL_TAGS.get(key)
  if (field !== undefined) {
    throw invalidParameter(
      `Tag key '${key}' is reserved: this server keeps the model version's ${field} in it. Use another key; the ${field} is read from the model version itself`,
    )
  }
}

/** A model version tag from its `key` and `value` fields (a missing value is empty, as in MLflow), checked as MLflow checks it. */
function versionTag(fields: RequestFields): { key: string; value: string } {
  const key = fields.key
  assertVersionTagKey(key)
  const value = optionalString(fields, 'value') ?? ''
  assertValueLength({ what: 'Model version tag', key, value, max: MLFLOW_LIMITS.registryTagValueLength })
  return { key, value }
}

/**
 * A model version as MLflow sends it, with the aliases (of its model's, from one listAssetAliases
 * call) that point at it. Empty lists are left out, as protobuf's JSON leaves them out.
 */
function modelVersionJson(version: AssetVersion, aliases: readonly AssetAlias[]): Record<string, unknown> {
  const tags = visibleTags(version)
  const modelId = version.tags[MODEL_ID_TAG]
  const list = keyValues(tags)
  const names = aliases.filter((a) => a.name === version.name && a.version === version.version).map((a) => a.alias)
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
    ...(names.length > 0 ? { aliases: names } : {}),
    ...(modelId !== undefined ? { model_id: modelId } : {}),
  }
}

/** A registered model: its newest version, when it was first made, and its aliases (version numbers as text, as MLflow sends them). */
function registeredModelJson(
  latest: AssetVersion,
  { first, aliases }: { first: { createdAt: string }; aliases: readonly AssetAlias[] },
): Record<string, unknown> {
  return {
    name: latest.name,
    creation_timestamp: msOf(first.createdAt),
    last_updated_timestamp: msOf(latest.createdAt),
    latest_versions: [modelVersionJson(latest, aliases)],
    ...(aliases.length > 0 ? { aliases: aliases.map((a) => ({ alias: a.alias, version: String(a.version) })) } : {}),
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

/** The aliases of the asset `name`, in one store call; none when the asset does not exist. */
async function aliasesOf(r: MlflowRequest, name: string): Promise<AssetAlias[]> {
  try {
    return await r.deps.store.listAssetAliases({ workspace: r.workspace, name })
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) return []
    throw error
  }
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

/** A model version number sent as text; INVALID_PARAMETER_VALUE when it is not a positive integer. */
function versionNumber(version: string): number {
  const number = /^[1-9]\d{0,14}$/.test(version) ? Number(version) : NaN
  if (!Number.isSafeInteger(number)) throw invalidParameter(`Model version must be an integer, got '${version}'`)
  return number
}

function noVersion(name: string, version: string | number): MlflowError {
  return new MlflowError('RESOURCE_DOES_NOT_EXIST', `Model Version (name=${name}, version=${version}) not found`)
}

async function getVersion(r: MlflowRequest, name: string, version: string): Promise<AssetVersion> {
  const number = versionNumber(version)
  try {
    return await r.deps.store.getAssetVersion({ workspace: r.workspace, name, version: number })
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) throw noVersion(name, version)
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
  return { registered_model: registeredModelJson(latest, { first, aliases: await aliasesOf(r, name) }) }
}

/** registered-models/get-latest-versions: the newest version (stages are not kept). */
export async function getLatestVersions(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const latest = (await versionsOf(r, name))[0]
  if (latest === undefined) throw noModel(name)
  return { model_versions: [modelVersionJson(latest, await aliasesOf(r, name))] }
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
    if (latest !== undefined && first !== undefined)
      models.push(registeredModelJson(latest, { first, aliases: await aliasesOf(r, name) }))
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
  const description = optionalString(r.fields, 'description') ?? ''
  assertDescriptionLength(r, description)
  // A Map, so that a key such as `__proto__` stays a tag.
  const tags = new Map<string, string>()
  for (const tag of objectList(r.fields, 'tags').map(versionTag)) tags.set(tag.key, tag.value)
  const maxTags = r.deps.config.limits.tagsPerRun
  if (tags.size > maxTags) {
    throw invalidParameter(`A model version takes at most ${maxTags} tags here (server limit "tagsPerRun"); got ${tags.size}`)
  }
  const { runId, path, modelId } = await resolveSource(r, r.fields)
  tags.set(SOURCE_TAG, source)
  if (modelId !== undefined) tags.set(MODEL_ID_TAG, modelId)
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
      description,
      tags: Object.fromEntries(tags),
    })
    // A version just made has no alias: an alias can point only at a version that exists.
    return { model_version: modelVersionJson(version, []) }
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
  const name = requiredString(r.fields, 'name')
  const version = await getVersion(r, name, requiredString(r.fields, 'version'))
  return { model_version: modelVersionJson(version, await aliasesOf(r, name)) }
}

/** Checks a model version description against the server's `descriptionLength` (MLflow's column holds 5,000 too). */
function assertDescriptionLength(r: MlflowRequest, description: string): void {
  assertWithinLimit(r.deps.config.limits, 'descriptionLength', {
    what: 'the model version description length',
    actual: description.length,
  })
}

/**
 * Changes a version's description and tags in one store call; MLflow's RESOURCE_DOES_NOT_EXIST, with its
 * wording, when the model or the version is missing (MLflow names the version either way).
 */
async function editVersion(
  r: MlflowRequest,
  edit: { name: string; version: string; description?: string; setTags?: Record<string, string>; removeTags?: string[] },
): Promise<AssetVersion> {
  const version = versionNumber(edit.version)
  try {
    return await r.deps.store.updateAssetVersion({
      workspace: r.workspace,
      name: edit.name,
      version,
      ...(edit.description !== undefined ? { description: edit.description } : {}),
      setTags: edit.setTags ?? {},
      removeTags: edit.removeTags ?? [],
      maxTags: r.deps.config.limits.tagsPerRun,
    })
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) throw noVersion(edit.name, version)
    throw error
  }
}

/**
 * model-versions/update: sets the version's description. As MLflow's server does, a request without
 * one clears it (the Python client always sends one); tags are changed by set-tag and delete-tag.
 */
export async function updateModelVersion(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const version = requiredString(r.fields, 'version')
  const description = optionalString(r.fields, 'description') ?? ''
  assertDescriptionLength(r, description)
  const edited = await editVersion(r, { name, version, description })
  return { model_version: modelVersionJson(edited, await aliasesOf(r, name)) }
}

/** model-versions/set-tag: sets (or replaces) one tag; the internal keys are refused. */
export async function setModelVersionTag(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const version = requiredString(r.fields, 'version')
  const tag = versionTag(r.fields)
  await editVersion(r, { name, version, setTags: { [tag.key]: tag.value } })
  return {}
}

/** model-versions/delete-tag: removes one tag; a tag the version does not have is no error, as in MLflow. */
export async function deleteModelVersionTag(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const version = requiredString(r.fields, 'version')
  const key = r.fields.key
  assertVersionTagKey(key)
  await editVersion(r, { name, version, removeTags: [key] })
  return {}
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
    const json = modelVersionJson(v, [])
    return {
      attributes: { name: v.name, run_id: v.sourceRunId, source: json.source as string, version_number: String(v.version) },
      tags: visibleTags(v),
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
  // One alias listing per model on the page, not per version.
  const aliases: AssetAlias[] = []
  for (const name of new Set(page.map((v) => v.name))) aliases.push(...(await aliasesOf(r, name)))
  return {
    ...(page.length > 0 ? { model_versions: page.map((v) => modelVersionJson(v, aliases)) } : {}),
    ...(offset + maxResults < sorted.length ? { next_page_token: encodeOffsetToken(offset + maxResults) } : {}),
  }
}

/** The longest alias MLflow takes (and Wharf's alias rule). */
const ALIAS_MAX_LENGTH = 255

/** Checks an alias's characters and length as MLflow does on every alias call. */
function assertAliasCharacters(alias: string): void {
  if (!/^[\w-]*$/.test(alias)) {
    throw invalidParameter(
      `Invalid alias name: '${alias.slice(0, 100)}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`,
    )
  }
  if (alias.length > ALIAS_MAX_LENGTH) {
    throw invalidParameter(`'Registered model alias name' exceeds the maximum length of ${ALIAS_MAX_LENGTH} characters`)
  }
}

/**
 * Checks an alias about to be set: MLflow's rules (its characters, not `latest`, not v<number>),
 * then Wharf's (ASCII letters and digits, not a number), since the alias is an asset alias that
 * `wharf asset alias` and `name@alias` read as well.
 */
function assertAliasToSet(alias: string): void {
  assertAliasCharacters(alias)
  if (alias.toLowerCase() === 'latest') throw invalidParameter("'latest' alias name (case insensitive) is reserved.")
  if (/^[vV]\d+$/.test(alias)) throw invalidParameter(`Version alias name '${alias}' is reserved.`)
  if (!NAME_RULES.assetAlias.pattern.test(alias)) {
    throw invalidParameter(
      `Invalid alias name: '${alias}'. Registered models are Wharf assets here, whose alias rule is: ${NAME_RULES.assetAlias.rule}`,
    )
  }
}

/** registered-models/alias (POST): points an alias at an existing version, making or moving it. */
export async function setRegisteredModelAlias(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const alias = requiredString(r.fields, 'alias')
  const versionText = requiredString(r.fields, 'version')
  assertAliasToSet(alias)
  const version = versionNumber(versionText)
  try {
    await r.deps.store.setAssetAlias({
      workspace: r.workspace,
      name,
      alias,
      version,
      updatedAt: new Date().toISOString(),
      maxAliases: r.deps.config.limits.aliasesPerAsset,
    })
  } catch (error) {
    // The store names the version only when the model exists: MLflow says which of the two is missing.
    if (isWharfError(error, 'ASSET_NOT_FOUND'))
      throw error.details?.version === undefined ? noModel(name) : noVersion(name, version)
    throw error
  }
  return {}
}

/** registered-models/alias (DELETE): removes an alias; an alias the model does not have is no error, as in MLflow. */
export async function deleteRegisteredModelAlias(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const alias = requiredString(r.fields, 'alias')
  assertAliasCharacters(alias)
  try {
    await r.deps.store.deleteAssetAlias({ workspace: r.workspace, name, alias })
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) throw noModel(name)
    throw error
  }
  return {}
}

/**
 * registered-models/alias (GET): the version an alias points at; `latest` (any case) is the newest
 * version, as in MLflow. An unknown alias is INVALID_PARAMETER_VALUE (400), as MLflow's server answers it.
 */
export async function getModelVersionByAlias(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  const alias = requiredString(r.fields, 'alias')
  assertAliasCharacters(alias)
  let version: AssetVersion
  try {
    version = await r.deps.store.getAssetVersion({
      workspace: r.workspace,
      name,
      version: alias.toLowerCase() === 'latest' ? 'latest' : { alias },
    })
  } catch (error) {
    if (isWharfError(error, 'ASSET_NOT_FOUND')) throw noModel(name)
    if (isWharfError(error, 'ASSET_ALIAS_NOT_FOUND')) {
      throw invalidParameter(
        `Registered model alias ${alias} not found. The model's aliases are listed by get_registered_model('${name}').aliases`,
      )
    }
    throw error
  }
  return { model_version: modelVersionJson(version, await aliasesOf(r, name)) }
}

/** Registry changes Wharf's assets do not take: versions are kept, with their files. */
export function unsupportedRegistryChange(what: string): (r: MlflowRequest) => Promise<unknown> {
  return () =>
    Promise.reject(
      new MlflowError(
        'NOT_IMPLEMENTED',
        `${what} is not supported: registered models are Wharf assets, whose versions are kept and whose files never change`,
      ),
    )
}

/**
 * Registered-model descriptions and tags: an asset keeps none (it exists from its first version), so
 * these are refused with what does work: a version's description and tags.
 */
export function unsupportedRegisteredModelMetadata(what: string): (r: MlflowRequest) => Promise<unknown> {
  return () =>
    Promise.reject(
      new MlflowError(
        'NOT_IMPLEMENTED',
        `${what} is not supported: this server keeps no description or tags on a registered model (a Wharf asset). ` +
          'A model version takes them: MlflowClient().update_model_version and set_model_version_tag here, `wharf asset update` in Wharf',
      ),
    )
}

/** The asset file an `_assets/<name>/<version>/<path>` proxy path names, for downloads and listings. */
export async function assetFilesAt(r: MlflowRequest, rest: string): Promise<{ version: AssetVersion; path: string }> {
  const [name = '', versionText = '', ...path] = rest.split('/')
  const version = await getVersion(r, name, versionText)
  return { version, path: path.join('/') }
}
