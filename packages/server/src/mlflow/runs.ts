import { createHash } from 'node:crypto'
import { canTransition, isWharfError, newRunId, type MetricPointIn, type Run, type RunStatus } from '@wharf/contract'
import { readableRunName } from '../run-names.js'
import {
  INPUTS_TAG,
  NOTE_TAG,
  PARENT_TAG,
  RUN_NAME_TAG,
  USER_TAG,
  datasetInputsOf,
  runInfoJson,
  runJson,
  searchableRun,
  type DatasetInput,
} from './convert.js'
import {
  MLFLOW_RUN_STATUSES,
  activeRun,
  findRun,
  hasEnded,
  mlflowExperimentId,
  toWharfStatus,
  type MlflowRequest,
  type MlflowRunStatus,
} from './context.js'
import { MlflowError, invalidParameter } from './errors.js'
import { inView, viewTypeOf } from './experiments.js'
import { RUN_SEARCH, matches, parseFilter, parseOrderBy, sortItems } from './search.js'
import {
  MLFLOW_LIMITS,
  assertKey,
  assertValueLength,
  decodeOffsetToken,
  encodeOffsetToken,
  enumText,
  isoOf,
  metricValue,
  objectList,
  optionalInteger,
  optionalString,
  requiredString,
  runIdOf,
  stringList,
  type RequestFields,
} from './wire.js'

function tagsOf(list: RequestFields[]): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const tag of list) {
    const key = tag.key
    assertKey(key, 'tag')
    const value = optionalString(tag, 'value') ?? ''
    assertValueLength({ what: 'Tag', key, value, max: MLFLOW_LIMITS.runTagValueLength })
    tags[key] = value
  }
  return tags
}

function paramsOf(list: RequestFields[]): Record<string, string> {
  const params: Record<string, string> = {}
  for (const param of list) {
    const key = param.key
    assertKey(key, 'param')
    const value = optionalString(param, 'value') ?? ''
    assertValueLength({ what: 'Param', key, value, max: MLFLOW_LIMITS.paramValueLength })
    const earlier = params[key]
    if (earlier !== undefined && earlier !== value) {
      throw invalidParameter(
        `Duplicate parameter keys have been submitted: ['${key}']. Please ensure the request contains only one param value per param key.`,
      )
    }
    params[key] = value
  }
  return params
}

function statusOf(fields: RequestFields): MlflowRunStatus | undefined {
  const raw = enumText(fields, 'status')
  if (raw === undefined) return undefined
  const byNumber: Record<string, MlflowRunStatus> = {
    '1': 'RUNNING',
    '2': 'SCHEDULED',
    '3': 'FINISHED',
    '4': 'FAILED',
    '5': 'KILLED',
  }
  const status = byNumber[raw] ?? raw
  if (!(MLFLOW_RUN_STATUSES as readonly string[]).includes(status)) {
    throw invalidParameter(`Invalid value ${raw} for parameter 'status': use ${MLFLOW_RUN_STATUSES.join(', ')}`)
  }
  return status as MlflowRunStatus
}

/** runs/create */
export async function createRun(r: MlflowRequest): Promise<unknown> {
  const { store, config } = r.deps
  const experiment = await r.experiments.byId(optionalString(r.fields, 'experiment_id') ?? '0')
  if (experiment.deletedAt !== null) {
    throw invalidParameter(`The experiment ${experiment.id} must be in the 'active' state. Current state is deleted.`)
  }
  const tags = tagsOf(objectList(r.fields, 'tags'))
  const runName = optionalString(r.fields, 'run_name')
  const tagName = tags[RUN_NAME_TAG]
  if (runName !== undefined && runName !== '' && tagName !== undefined && tagName !== runName) {
    throw invalidParameter(
      `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${tagName}').`,
    )
  }
  const userId = optionalString(r.fields, 'user_id')
  if (userId !== undefined && userId !== '' && tags[USER_TAG] === undefined) tags[USER_TAG] = userId
  const start = isoOf(optionalInteger(r.fields, 'start_time') ?? Date.now(), 'start_time')
  const id = newRunId()
  // A parent named by tag becomes the run's parent when it is a run here; otherwise it stays a tag.
  let parentRunId: string | null = null
  const parent = tags[PARENT_TAG]
  if (parent !== undefined) {
    try {
      parentRunId = (await store.getRun({ workspace: r.workspace, runId: parent })).id
      delete tags[PARENT_TAG]
    } catch (error) {
      if (!isWharfError(error, 'RUN_NOT_FOUND') && !isWharfError(error, 'INVALID_ARGUMENT')) throw error
    }
  }
  const description = tags[NOTE_TAG] ?? ''
  delete tags[NOTE_TAG]
  delete tags[RUN_NAME_TAG]
  if (Object.keys(tags).length > config.limits.tagsPerRun) {
    throw invalidParameter(`A run takes at most ${config.limits.tagsPerRun} tags here (server limit "tagsPerRun")`)
  }
  const run = await store.createRun({
    workspace: r.workspace,
    experiment: experiment.name,
    id,
    displayName: (runName !== undefined && runName !== '' ? runName : tagName) || readableRunName(id),
    description,
    status: 'Running',
    createdAt: start,
    startedAt: start,
    tags,
    properties: {},
    parentRunId,
    computeTarget: 'local',
    scriptName: null,
    command: null,
    snapshotId: null,
    definition: null,
  })
  return { run: runJson(run, { experimentId: await r.experiments.idOfRun(run), metrics: [] }) }
}

/** runs/get */
export async function getRun(r: MlflowRequest): Promise<unknown> {
  const run = await findRun(r, runIdOf(r.fields))
  const metrics = await r.deps.store.listMetrics({ workspace: r.workspace, runId: run.id })
  const models = await r.deps.store.listLoggedModels({ workspace: r.workspace, sourceRunId: run.id })
  return { run: runJson(run, { experimentId: await r.experiments.idOfRun(run), metrics, models }) }
}

/**
 * Moves a run to a status MLflow asked for, as far as Wharf's lifecycle goes: a run that has ended
 * stays as it ended (Wharf runs never re-open), and a run asked to finish before it ran passes
 * through Running.
 */
async function moveTo(r: MlflowRequest, run: Run, options: { status: RunStatus; at: string }): Promise<Run> {
  const { status, at } = options
  if (run.status === status || hasEnded(run)) return run
  let current = run
  if (status === 'Completed' && !canTransition(current.status, status)) {
    current = await r.deps.store.transitionRun({ workspace: r.workspace, runId: run.id, status: 'Running', at })
  }
  if (!canTransition(current.status, status)) return current
  return r.deps.store.transitionRun({ workspace: r.workspace, runId: run.id, status, at })
}

/** runs/update: status, end time and name. */
export async function updateRun(r: MlflowRequest): Promise<unknown> {
  let run = await activeRun(r, runIdOf(r.fields))
  const name = optionalString(r.fields, 'run_name')
  if (name !== undefined && name !== '' && name !== run.displayName) {
    run = await r.deps.store.updateRun({ workspace: r.workspace, runId: run.id, displayName: name })
  }
  const status = statusOf(r.fields)
  if (status !== undefined) {
    const endTime = optionalInteger(r.fields, 'end_time')
    run = await moveTo(r, run, { status: toWharfStatus(status), at: isoOf(endTime ?? Date.now(), 'end_time') })
  }
  return { run_info: runInfoJson(run, await r.experiments.idOfRun(run)) }
}

/** runs/delete and runs/restore */
export function setRunDeleted(deleted: boolean): (r: MlflowRequest) => Promise<unknown> {
  return async (r) => {
    const run = await findRun(r, runIdOf(r.fields))
    await r.deps.store.setRunDeleted({ workspace: r.workspace, runId: run.id, deleted, at: new Date().toISOString() })
    return {}
  }
}

/** Adds params as properties, refusing a changed value in MLflow's words. */
async function addParams(r: MlflowRequest, run: Run, params: Record<string, string>): Promise<Run> {
  const added: Record<string, string> = {}
  for (const [key, value] of Object.entries(params)) {
    const current = run.properties[key]
    if (current === undefined) added[key] = value
    else if (current !== value) {
      throw invalidParameter(
        `Changing param values is not allowed. Param with key='${key}' was already logged with value='${current}' for run ID='${run.id}'. Attempted logging new value '${value}'.`,
      )
    }
  }
  if (Object.keys(added).length === 0) return run
  return r.deps.store.addProperties({
    workspace: r.workspace,
    runId: run.id,
    properties: added,
    maxProperties: r.deps.config.limits.propertiesPerRun,
  })
}

/** Sets tags; the ones that are fields of a Wharf run (name, description) change those fields. */
async function setTags(r: MlflowRequest, run: Run, tags: Record<string, string>): Promise<Run> {
  const set = { ...tags }
  const patch: { displayName?: string; description?: string } = {}
  if (set[RUN_NAME_TAG] !== undefined) patch.displayName = set[RUN_NAME_TAG]
  if (set[NOTE_TAG] !== undefined) patch.description = set[NOTE_TAG]
  delete set[RUN_NAME_TAG]
  delete set[NOTE_TAG]
  // The parent of a run is fixed when it is created; a parent tag set later is kept as a tag.
  let current = run
  if (patch.displayName !== undefined || patch.description !== undefined) {
    current = await r.deps.store.updateRun({ workspace: r.workspace, runId: run.id, ...patch })
  }
  if (Object.keys(set).length === 0) return current
  return r.deps.store.updateTags({
    workspace: r.workspace,
    runId: run.id,
    set,
    remove: [],
    maxTags: r.deps.config.limits.tagsPerRun,
  })
}

interface MetricIn {
  key: string
  value: number
  timestamp: number
  step: number
}

function metricOf(fields: RequestFields): MetricIn {
  const key = fields.key
  assertKey(key, 'metric')
  const value = metricValue(fields.value, 'value')
  const timestamp = optionalInteger(fields, 'timestamp')
  if (timestamp === undefined)
    throw invalidParameter(
      `Missing value for required parameter 'timestamp'. See the API docs for more information about request parameters.`,
    )
  const step = optionalInteger(fields, 'step') ?? 0
  if (step < 0) throw invalidParameter(`Metric '${key}' has step ${step}: this server keeps steps from 0 up`)
  if (timestamp < 0) throw invalidParameter(`Metric '${key}' has a negative timestamp ${timestamp}`)
  return { key, value, timestamp, step }
}

/**
 * The writer id of a set of metrics for a run: the same points logged again (a client retrying a POST
 * after a timeout or a 5xx) carry the same id, and the store's batch dedupe keeps them once.
 */
function batchWriterId(runId: string, metrics: readonly MetricIn[]): string {
  const canonical = JSON.stringify([runId, metrics.map((m) => [m.key, String(m.value), m.timestamp, m.step])])
  return `mlflow-${createHash('sha256').update(canonical).digest('hex')}`
}

async function logMetrics(r: MlflowRequest, run: Run, metrics: readonly MetricIn[]): Promise<void> {
  if (metrics.length === 0) return
  const points: MetricPointIn[] = metrics.map((m) => ({
    name: m.key,
    value: Number.isFinite(m.value) ? m.value : Number.isNaN(m.value) ? 'NaN' : m.value > 0 ? 'Infinity' : '-Infinity',
    step: m.step,
    time: m.timestamp,
  }))
  await r.deps.store.ingestMetrics({
    workspace: r.workspace,
    runId: run.id,
    writerId: batchWriterId(run.id, metrics),
    sequence: 0,
    points,
    receivedAt: Date.now(),
    maxMetricNames: r.deps.config.limits.metricNamesPerRun,
  })
}

/**
 * Checks a whole batch against the run before any part is written, so a batch is refused whole and
 * never half stored: changed params, and the params, tags and metric names the run would have after it.
 */
async function checkBatch(
  r: MlflowRequest,
  run: Run,
  batch: { metrics: readonly MetricIn[]; params: Record<string, string>; tags: Record<string, string> },
): Promise<void> {
  const { limits } = r.deps.config
  const over = (what: string, count: number, max: number): MlflowError =>
    invalidParameter(`This batch would give run ${run.id} ${count} ${what}, above the limit of ${max}.`)
  for (const [key, value] of Object.entries(batch.params)) {
    const current = run.properties[key]
    if (current !== undefined && current !== value) {
      throw invalidParameter(
        `Changing param values is not allowed. Param with key='${key}' was already logged with value='${current}' for run ID='${run.id}'. Attempted logging new value '${value}'.`,
      )
    }
  }
  const params = new Set([...Object.keys(run.properties), ...Object.keys(batch.params)]).size
  if (params > limits.propertiesPerRun) throw over('params', params, limits.propertiesPerRun)
  const newTags = Object.keys(batch.tags).filter((key) => key !== RUN_NAME_TAG && key !== NOTE_TAG)
  const tags = new Set([...Object.keys(run.tags), ...newTags]).size
  if (tags > limits.tagsPerRun) throw over('tags', tags, limits.tagsPerRun)
  if (batch.metrics.length > 0) {
    const names = new Set((await r.deps.store.listMetrics({ workspace: r.workspace, runId: run.id })).map((m) => m.name))
    for (const metric of batch.metrics) names.add(metric.key)
    if (names.size > limits.metricNamesPerRun) throw over('metric names', names.size, limits.metricNamesPerRun)
  }
}

/** runs/log-metric */
export async function logMetric(r: MlflowRequest): Promise<unknown> {
  const metric = metricOf(r.fields)
  const run = await activeRun(r, runIdOf(r.fields))
  await logMetrics(r, run, [metric])
  return {}
}

/** runs/log-parameter */
export async function logParam(r: MlflowRequest): Promise<unknown> {
  const params = paramsOf([r.fields])
  const run = await activeRun(r, runIdOf(r.fields))
  await addParams(r, run, params)
  return {}
}

/** runs/set-tag */
export async function setTag(r: MlflowRequest): Promise<unknown> {
  const tags = tagsOf([r.fields])
  const run = await activeRun(r, runIdOf(r.fields))
  await setTags(r, run, tags)
  return {}
}

/** runs/delete-tag */
export async function deleteTag(r: MlflowRequest): Promise<unknown> {
  const key = requiredString(r.fields, 'key')
  const run = await activeRun(r, runIdOf(r.fields))
  if (key === NOTE_TAG && run.description !== '') {
    await r.deps.store.updateRun({ workspace: r.workspace, runId: run.id, description: '' })
    return {}
  }
  if (run.tags[key] === undefined || key === INPUTS_TAG) {
    throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${key} in run with id ${run.id}`)
  }
  await r.deps.store.updateTags({
    workspace: r.workspace,
    runId: run.id,
    set: {},
    remove: [key],
    maxTags: r.deps.config.limits.tagsPerRun,
  })
  return {}
}

/** runs/log-batch: checked whole first, then params, metrics and tags written, as MLflow writes them. */
export async function logBatch(r: MlflowRequest): Promise<unknown> {
  const metricsIn = objectList(r.fields, 'metrics')
  const paramsIn = objectList(r.fields, 'params')
  const tagsIn = objectList(r.fields, 'tags')
  const tooMany = (what: string, count: number, max: number): MlflowError =>
    invalidParameter(
      `A batch logging request can contain at most ${max} ${what}. Got ${count} ${what}. Please split up ${what} across multiple requests and try again.`,
    )
  if (metricsIn.length > MLFLOW_LIMITS.metricsPerBatch) throw tooMany('metrics', metricsIn.length, MLFLOW_LIMITS.metricsPerBatch)
  if (paramsIn.length > MLFLOW_LIMITS.paramsPerBatch) throw tooMany('params', paramsIn.length, MLFLOW_LIMITS.paramsPerBatch)
  if (tagsIn.length > MLFLOW_LIMITS.tagsPerBatch) throw tooMany('tags', tagsIn.length, MLFLOW_LIMITS.tagsPerBatch)
  const total = metricsIn.length + paramsIn.length + tagsIn.length
  if (total > MLFLOW_LIMITS.entitiesPerBatch) throw tooMany('entities', total, MLFLOW_LIMITS.entitiesPerBatch)
  const metrics = metricsIn.map(metricOf)
  const params = paramsOf(paramsIn)
  const tags = tagsOf(tagsIn)
  let run = await activeRun(r, runIdOf(r.fields))
  await checkBatch(r, run, { metrics, params, tags })
  run = await addParams(r, run, params)
  await logMetrics(r, run, metrics)
  if (Object.keys(tags).length > 0) await setTags(r, run, tags)
  return {}
}

/** runs/log-inputs: datasets are kept with the run (one tag, shown back as its inputs); model inputs are accepted. */
export async function logInputs(r: MlflowRequest): Promise<unknown> {
  const run = await activeRun(r, runIdOf(r.fields))
  const given: DatasetInput[] = []
  for (const item of objectList(r.fields, 'datasets')) {
    const dataset = item.dataset
    if (typeof dataset !== 'object' || dataset === null) throw invalidParameter("Missing value for required parameter 'dataset'.")
    const d = dataset as RequestFields
    given.push({
      dataset: {
        name: requiredString(d, 'name'),
        digest: requiredString(d, 'digest'),
        source_type: requiredString(d, 'source_type'),
        source: requiredString(d, 'source'),
        ...(optionalString(d, 'schema') !== undefined ? { schema: optionalString(d, 'schema') } : {}),
        ...(optionalString(d, 'profile') !== undefined ? { profile: optionalString(d, 'profile') } : {}),
      },
      tags: objectList(item, 'tags').map((tag) => ({
        key: requiredString(tag, 'key'),
        value: optionalString(tag, 'value') ?? '',
      })),
    })
  }
  if (given.length === 0) return {}
  const same = (a: DatasetInput, b: DatasetInput): boolean =>
    a.dataset.name === b.dataset.name &&
    a.dataset.digest === b.dataset.digest &&
    JSON.stringify(a.tags) === JSON.stringify(b.tags)
  // Merged with the run's inputs as they are under its lock, so concurrent log-inputs each keep theirs.
  await mergeRunTag(r, {
    runId: run.id,
    key: INPUTS_TAG,
    merge: (current) => {
      const inputs = datasetInputsOf({ tags: current === undefined ? {} : { [INPUTS_TAG]: current } })
      for (const input of given) if (!inputs.some((other) => same(other, input))) inputs.push(input)
      return JSON.stringify(inputs)
    },
  })
  return {}
}

/**
 * Rewrites one tag of a run from its current value, under the run's lock, so concurrent calls that
 * each add to it (log-inputs, log-model) all keep theirs.
 */
function mergeRunTag(
  r: MlflowRequest,
  change: { runId: string; key: string; merge: (current: string | undefined) => string },
): Promise<unknown> {
  return r.deps.store.updateTags({
    workspace: r.workspace,
    runId: change.runId,
    set: {},
    remove: [],
    merge: { [change.key]: change.merge },
    maxTags: r.deps.config.limits.tagsPerRun,
  })
}

/** runs/search */
export async function searchRuns(r: MlflowRequest): Promise<unknown> {
  const { store, config } = r.deps
  const maxResults = optionalInteger(r.fields, 'max_results') ?? MLFLOW_LIMITS.searchRunsDefault
  if (maxResults < 1 || maxResults > MLFLOW_LIMITS.searchRunsMax) {
    throw invalidParameter(
      `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${MLFLOW_LIMITS.searchRunsMax}`,
    )
  }
  const view = viewTypeOf(r.fields, 'run_view_type')
  const clauses = parseFilter(optionalString(r.fields, 'filter'), RUN_SEARCH)
  const order = parseOrderBy(stringList(r.fields, 'order_by'), RUN_SEARCH)
  const offset = decodeOffsetToken(optionalString(r.fields, 'page_token'))
  const experimentIds = stringList(r.fields, 'experiment_ids')
  const candidates: { run: Run; experimentId: string; searchable: ReturnType<typeof searchableRun> }[] = []
  // "0" and the Default experiment's own id name the same experiment: read each experiment once.
  const seen = new Set<string>()
  for (const experimentId of new Set(experimentIds)) {
    const experiment = await r.experiments.byId(experimentId)
    if (seen.has(experiment.name)) continue
    seen.add(experiment.name)
    let pageToken: string | undefined
    // Every run of the experiment is read and matched here: the store has no query for MLflow's grammar.
    do {
      const page = await store.listRuns({
        workspace: r.workspace,
        experiment: experiment.name,
        orderBy: { kind: 'time', field: 'createdAt' },
        order: 'desc',
        pageSize: config.limits.pageSize,
        ...(pageToken !== undefined ? { pageToken } : {}),
        includeMetrics: true,
      })
      for (const run of page.items) {
        if (!inView(view, run.deletedAt !== undefined)) continue
        const searchable = searchableRun(run, mlflowExperimentId(experiment))
        if (matches(searchable, clauses, RUN_SEARCH)) candidates.push({ run, experimentId, searchable })
      }
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
  }
  const sorted = sortItems(candidates, {
    order,
    of: (c) => c.searchable,
    tiebreak: (a, b) => {
      const byStart = (b.searchable.attributes.start_time as number) - (a.searchable.attributes.start_time as number)
      return byStart !== 0 ? byStart : a.run.id < b.run.id ? -1 : a.run.id > b.run.id ? 1 : 0
    },
  })
  const page = sorted.slice(offset, offset + maxResults)
  const runs = []
  for (const { run, experimentId } of page) {
    const metrics = await store.listMetrics({ workspace: r.workspace, runId: run.id })
    runs.push(runJson(run, { experimentId, metrics }))
  }
  return {
    ...(runs.length > 0 ? { runs } : {}),
    ...(offset + maxResults < sorted.length ? { next_page_token: encodeOffsetToken(offset + maxResults) } : {}),
  }
}

/** The run tag MLflow 2.x clients keep their logged models in (runs/log-model), as a JSON list. */
const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history'

/** runs/log-model (MLflow 2.x): appends the model's MLmodel JSON to the run's model history tag. */
export async function logModel(r: MlflowRequest): Promise<unknown> {
  const text = requiredString(r.fields, 'model_json')
  let model: unknown
  try {
    model = JSON.parse(text) as unknown
  } catch {
    throw invalidParameter("Malformed model info. 'model_json' is not JSON")
  }
  if (typeof model !== 'object' || model === null || Array.isArray(model))
    throw invalidParameter("Malformed model info. 'model_json' must be an object")
  for (const field of ['artifact_path', 'flavors', 'utc_time_created', 'run_id']) {
    if (!(field in model)) throw invalidParameter(`Model json is missing mandatory fields: ['${field}']`)
  }
  const run = await activeRun(r, runIdOf(r.fields))
  // Appended to the history as it is under the run's lock, so concurrent log-model calls each keep theirs.
  await mergeRunTag(r, {
    runId: run.id,
    key: LOG_MODEL_HISTORY_TAG,
    merge: (current) => {
      let history: unknown[] = []
      try {
        const parsed = JSON.parse(current ?? '[]') as unknown
        if (Array.isArray(parsed)) history = parsed
      } catch {
        history = []
      }
      history.push(model)
      return JSON.stringify(history)
    },
  })
  return {}
}
