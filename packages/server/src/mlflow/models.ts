import { randomUUID } from 'node:crypto'
import type { LoggedModel } from '@wharf/store'
import { mlflowExperimentId, type MlflowRequest } from './context.js'
import { invalidParameter } from './errors.js'
import { LOGGED_MODEL_SEARCH, matches, parseFilter, sortItems, type OrderTerm, type Searchable } from './search.js'
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
  stringList,
  type RequestFields,
} from './wire.js'

const MODEL_STATUSES = ['LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED'] as const

function pairs(list: RequestFields[]): Record<string, string> {
  const map: Record<string, string> = {}
  for (const item of list) map[requiredString(item, 'key')] = optionalString(item, 'value') ?? ''
  return map
}

async function modelJson(r: MlflowRequest, model: LoggedModel): Promise<Record<string, unknown>> {
  const experiment = await r.experiments.byId(String(model.experimentId))
  const experimentId = mlflowExperimentId(experiment)
  const tags = keyValues(model.tags)
  const params = keyValues(model.params)
  return {
    info: {
      model_id: model.id,
      experiment_id: experimentId,
      name: model.name,
      creation_timestamp_ms: msOf(model.createdAt),
      last_updated_timestamp_ms: msOf(model.updatedAt),
      artifact_uri: `mlflow-artifacts:/${experimentId}/models/${model.id}/artifacts`,
      status: model.status,
      ...(model.modelType !== null ? { model_type: model.modelType } : {}),
      ...(model.sourceRunId !== null ? { source_run_id: model.sourceRunId } : {}),
      ...(model.statusMessage !== null ? { status_message: model.statusMessage } : {}),
      ...(tags.length > 0 ? { tags } : {}),
    },
    data: params.length > 0 ? { params } : {},
  }
}

function searchableModel(model: LoggedModel, experimentId: string): Searchable {
  return {
    attributes: {
      name: model.name,
      model_id: model.id,
      model_type: model.modelType,
      status: model.status,
      source_run_id: model.sourceRunId,
      experiment_id: experimentId,
      creation_timestamp: msOf(model.createdAt),
      creation_time: msOf(model.createdAt),
      last_updated_timestamp: msOf(model.updatedAt),
    },
    params: model.params,
    tags: model.tags,
  }
}

/** POST logged-models: a new model, pending until its files are uploaded. */
export async function createLoggedModel(r: MlflowRequest): Promise<unknown> {
  const experiment = await r.experiments.byId(requiredString(r.fields, 'experiment_id'))
  const sourceRunId = optionalString(r.fields, 'source_run_id')
  const id = `m-${randomUUID().replaceAll('-', '')}`
  const model = await r.deps.store.createLoggedModel({
    id,
    workspace: r.workspace,
    experimentId: experiment.id,
    name: optionalString(r.fields, 'name') || id,
    sourceRunId: sourceRunId === undefined || sourceRunId === '' ? null : sourceRunId,
    modelType: optionalString(r.fields, 'model_type') ?? null,
    status: 'LOGGED_MODEL_PENDING',
    tags: pairs(objectList(r.fields, 'tags')),
    params: pairs(objectList(r.fields, 'params')),
    createdAt: new Date().toISOString(),
  })
  return { model: await modelJson(r, model) }
}

/** GET logged-models/{model_id} */
export async function getLoggedModel(r: MlflowRequest): Promise<unknown> {
  return { model: await modelJson(r, await r.deps.store.getLoggedModel({ workspace: r.workspace, id: r.params.model_id ?? '' })) }
}

/** PATCH logged-models/{model_id}: finalizes with a status. */
export async function finalizeLoggedModel(r: MlflowRequest): Promise<unknown> {
  const status = requiredString(r.fields, 'status')
  if (!(MODEL_STATUSES as readonly string[]).includes(status)) {
    throw invalidParameter(`Invalid value ${status} for parameter 'status': use ${MODEL_STATUSES.join(', ')}`)
  }
  const model = await r.deps.store.changeLoggedModel({
    workspace: r.workspace,
    id: r.params.model_id ?? '',
    status,
    at: new Date().toISOString(),
  })
  return { model: await modelJson(r, model) }
}

/** DELETE logged-models/{model_id} */
export async function deleteLoggedModel(r: MlflowRequest): Promise<unknown> {
  await r.deps.store.changeLoggedModel({
    workspace: r.workspace,
    id: r.params.model_id ?? '',
    deleted: true,
    at: new Date().toISOString(),
  })
  return {}
}

/** PATCH logged-models/{model_id}/tags */
export async function setLoggedModelTags(r: MlflowRequest): Promise<unknown> {
  const model = await r.deps.store.changeLoggedModel({
    workspace: r.workspace,
    id: r.params.model_id ?? '',
    setTags: pairs(objectList(r.fields, 'tags')),
    at: new Date().toISOString(),
  })
  return { model: await modelJson(r, model) }
}

/** DELETE logged-models/{model_id}/tags/{tag_key} */
export async function deleteLoggedModelTag(r: MlflowRequest): Promise<unknown> {
  await r.deps.store.changeLoggedModel({
    workspace: r.workspace,
    id: r.params.model_id ?? '',
    removeTags: [r.params.tag_key ?? ''],
    at: new Date().toISOString(),
  })
  return {}
}

/** POST logged-models/{model_id}/params */
export async function logLoggedModelParams(r: MlflowRequest): Promise<unknown> {
  await r.deps.store.changeLoggedModel({
    workspace: r.workspace,
    id: r.params.model_id ?? '',
    addParams: pairs(objectList(r.fields, 'params')),
    at: new Date().toISOString(),
  })
  return {}
}

/** POST logged-models/search */
export async function searchLoggedModels(r: MlflowRequest): Promise<unknown> {
  const maxResults = optionalInteger(r.fields, 'max_results') ?? MLFLOW_LIMITS.loggedModelsPage
  if (maxResults < 1 || maxResults > MLFLOW_LIMITS.loggedModelsPage) {
    throw invalidParameter(`max_results must be between 1 and ${MLFLOW_LIMITS.loggedModelsPage}`)
  }
  const clauses = parseFilter(optionalString(r.fields, 'filter'), LOGGED_MODEL_SEARCH)
  const order: OrderTerm[] = objectList(r.fields, 'order_by').map((term) => {
    const field = requiredString(term, 'field_name')
    const key = field.startsWith('metrics.') ? field.slice('metrics.'.length) : field
    return { kind: field.startsWith('metrics.') ? 'metric' : 'attribute', key, ascending: term.ascending !== false }
  })
  const offset = decodeOffsetToken(optionalString(r.fields, 'page_token'))
  const experiments = await Promise.all(stringList(r.fields, 'experiment_ids').map((id) => r.experiments.byId(id)))
  const idOf = new Map(experiments.map((e) => [e.id, mlflowExperimentId(e)]))
  const models = await r.deps.store.listLoggedModels({ workspace: r.workspace, experimentIds: experiments.map((e) => e.id) })
  const found = models.filter((m) => matches(searchableModel(m, idOf.get(m.experimentId) ?? ''), clauses, LOGGED_MODEL_SEARCH))
  const sorted = sortItems(found, {
    order: order.length > 0 ? order : [{ kind: 'attribute', key: 'creation_timestamp', ascending: false }],
    of: (m) => searchableModel(m, idOf.get(m.experimentId) ?? ''),
    tiebreak: (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  })
  const page = sorted.slice(offset, offset + maxResults)
  const out = []
  for (const model of page) out.push(await modelJson(r, model))
  return {
    ...(out.length > 0 ? { models: out } : {}),
    ...(offset + maxResults < sorted.length ? { next_page_token: encodeOffsetToken(offset + maxResults) } : {}),
  }
}
