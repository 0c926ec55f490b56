import { isWharfError } from '@wharf/contract'
import { experimentJson, searchableExperiment } from './convert.js'
import { DEFAULT_EXPERIMENT, type MlflowRequest } from './context.js'
import { MlflowError, invalidParameter } from './errors.js'
import { EXPERIMENT_SEARCH, matches, parseFilter, parseOrderBy, sortItems } from './search.js'
import {
  MLFLOW_LIMITS,
  assertPrintable,
  assertValueLength,
  decodeOffsetToken,
  encodeOffsetToken,
  enumText,
  objectList,
  optionalInteger,
  optionalString,
  requiredString,
  stringList,
  type RequestFields,
} from './wire.js'

/** MLflow's view types, by name and by number. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL'

/** The view type of a request field (name or number); ACTIVE_ONLY by default. */
export function viewTypeOf(fields: RequestFields, name: string): ViewType {
  const text = enumText(fields, name)
  if (text === undefined) return 'ACTIVE_ONLY'
  const byNumber: Record<string, ViewType> = { '1': 'ACTIVE_ONLY', '2': 'DELETED_ONLY', '3': 'ALL' }
  const view = byNumber[text] ?? text
  if (view !== 'ACTIVE_ONLY' && view !== 'DELETED_ONLY' && view !== 'ALL') {
    throw invalidParameter(`Invalid value ${text} for parameter '${name}': use ACTIVE_ONLY, DELETED_ONLY or ALL`)
  }
  return view
}

/** True when an item deleted or not (`deleted`) is in the view. */
export function inView(view: ViewType, deleted: boolean): boolean {
  return view === 'ALL' || (view === 'DELETED_ONLY') === deleted
}

function assertExperimentName(name: string): void {
  if (name.length > MLFLOW_LIMITS.experimentNameLength) {
    throw invalidParameter(`Experiment name exceeds the maximum length of ${MLFLOW_LIMITS.experimentNameLength} characters`)
  }
  assertPrintable(name, 'Experiment name')
}

function experimentTags(fields: RequestFields): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const tag of objectList(fields, 'tags')) {
    const key = requiredString(tag, 'key')
    const value = optionalString(tag, 'value') ?? ''
    assertValueLength({ what: 'Experiment tag', key, value, max: MLFLOW_LIMITS.experimentTagValueLength })
    tags[key] = value
  }
  return tags
}

/** experiments/create */
export async function createExperiment(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'name')
  assertExperimentName(name)
  try {
    const created = await r.deps.store.createExperiment({
      workspace: r.workspace,
      name,
      createdAt: new Date().toISOString(),
      tags: experimentTags(r.fields),
    })
    return { experiment_id: String(created.id) }
  } catch (error) {
    if (isWharfError(error, 'EXPERIMENT_EXISTS')) {
      throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists. Error: the name is taken`)
    }
    throw error
  }
}

/** experiments/get */
export async function getExperiment(r: MlflowRequest): Promise<unknown> {
  return { experiment: experimentJson(await r.experiments.byId(requiredString(r.fields, 'experiment_id'))) }
}

/** experiments/get-by-name */
export async function getExperimentByName(r: MlflowRequest): Promise<unknown> {
  const name = requiredString(r.fields, 'experiment_name')
  const experiment = name === DEFAULT_EXPERIMENT ? await r.experiments.defaultExperiment() : await r.experiments.named(name)
  return { experiment: experimentJson(experiment) }
}

/** experiments/search (GET and POST) */
export async function searchExperiments(r: MlflowRequest): Promise<unknown> {
  const maxResults = optionalInteger(r.fields, 'max_results') ?? 1000
  if (maxResults < 1 || maxResults > MLFLOW_LIMITS.searchExperimentsMax) {
    throw invalidParameter(
      `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${MLFLOW_LIMITS.searchExperimentsMax}`,
    )
  }
  const view = viewTypeOf(r.fields, 'view_type')
  const clauses = parseFilter(optionalString(r.fields, 'filter'), EXPERIMENT_SEARCH)
  const order = parseOrderBy(stringList(r.fields, 'order_by'), EXPERIMENT_SEARCH)
  const offset = decodeOffsetToken(optionalString(r.fields, 'page_token'))
  await r.experiments.defaultExperiment()
  const all = await r.deps.store.listExperimentDetails(r.workspace)
  const found = all.filter(
    (e) => inView(view, e.deletedAt !== null) && matches(searchableExperiment(e), clauses, EXPERIMENT_SEARCH),
  )
  // Without an order, newest first as MLflow's SQL store answers; ties by id, highest first.
  const sorted = sortItems(found, {
    order: order.length > 0 ? order : [{ kind: 'attribute', key: 'creation_time', ascending: false }],
    of: searchableExperiment,
    tiebreak: (a, b) => b.id - a.id,
  })
  const page = sorted.slice(offset, offset + maxResults)
  return {
    ...(page.length > 0 ? { experiments: page.map(experimentJson) } : {}),
    ...(offset + maxResults < sorted.length ? { next_page_token: encodeOffsetToken(offset + maxResults) } : {}),
  }
}

/** experiments/update: renames. */
export async function updateExperiment(r: MlflowRequest): Promise<unknown> {
  const experiment = await r.experiments.byId(requiredString(r.fields, 'experiment_id'))
  const name = optionalString(r.fields, 'new_name')
  if (name === undefined || name === '') return {}
  assertExperimentName(name)
  if (experiment.deletedAt !== null) throw invalidParameter('Cannot rename a non-active experiment.')
  try {
    await r.deps.store.changeExperiment({ workspace: r.workspace, id: experiment.id, name, at: new Date().toISOString() })
  } catch (error) {
    if (isWharfError(error, 'EXPERIMENT_EXISTS'))
      throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`)
    throw error
  }
  return {}
}

/** experiments/delete and experiments/restore */
export function setExperimentDeleted(deleted: boolean): (r: MlflowRequest) => Promise<unknown> {
  return async (r) => {
    const id = requiredString(r.fields, 'experiment_id')
    if (deleted && id === '0')
      throw invalidParameter("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
    const experiment = await r.experiments.byId(id)
    await r.deps.store.changeExperiment({ workspace: r.workspace, id: experiment.id, deleted, at: new Date().toISOString() })
    return {}
  }
}

/** experiments/set-experiment-tag */
export async function setExperimentTag(r: MlflowRequest): Promise<unknown> {
  const experiment = await r.experiments.byId(requiredString(r.fields, 'experiment_id'))
  const key = requiredString(r.fields, 'key')
  const value = optionalString(r.fields, 'value') ?? ''
  assertValueLength({ what: 'Experiment tag', key, value, max: MLFLOW_LIMITS.experimentTagValueLength })
  if (experiment.deletedAt !== null) {
    throw invalidParameter(`The experiment ${experiment.id} must be in the 'active' state. Current state is deleted.`)
  }
  await r.deps.store.changeExperiment({
    workspace: r.workspace,
    id: experiment.id,
    setTags: { [key]: value },
    at: new Date().toISOString(),
  })
  return {}
}

/** experiments/delete-experiment-tag */
export async function deleteExperimentTag(r: MlflowRequest): Promise<unknown> {
  const experiment = await r.experiments.byId(requiredString(r.fields, 'experiment_id'))
  const key = requiredString(r.fields, 'key')
  await r.deps.store.changeExperiment({
    workspace: r.workspace,
    id: experiment.id,
    removeTags: [key],
    at: new Date().toISOString(),
  })
  return {}
}
