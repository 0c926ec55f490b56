import { assertWithinLimit } from '@wharf/contract'
import type { Hono } from 'hono'
import { DEFAULT_WORKSPACE } from '../bootstrap.js'
import type { AppDeps } from '../deps.js'
import type { AppContext, AppEnv } from '../http.js'
import { downloadProxyArtifact, listProxyArtifacts, listRunArtifacts, uploadProxyArtifact } from './artifacts.js'
import { ExperimentCache, type MlflowRequest } from './context.js'
import { MlflowError, invalidParameter, toMlflowError } from './errors.js'
import {
  createExperiment,
  deleteExperimentTag,
  getExperiment,
  getExperimentByName,
  searchExperiments,
  setExperimentDeleted,
  setExperimentTag,
  updateExperiment,
} from './experiments.js'
import { getMetricHistory, getMetricHistoryBulkInterval } from './metrics.js'
import {
  createLoggedModel,
  deleteLoggedModel,
  deleteLoggedModelTag,
  finalizeLoggedModel,
  getLoggedModel,
  logLoggedModelParams,
  searchLoggedModels,
  setLoggedModelTags,
} from './models.js'
import {
  createModelVersion,
  createRegisteredModel,
  deleteModelVersionTag,
  deleteRegisteredModelAlias,
  getLatestVersions,
  getModelVersion,
  getModelVersionByAlias,
  getModelVersionDownloadUri,
  getRegisteredModel,
  searchModelVersions,
  searchRegisteredModels,
  setModelVersionTag,
  setRegisteredModelAlias,
  unsupportedRegisteredModelMetadata,
  unsupportedRegistryChange,
  updateModelVersion,
} from './registry.js'
import {
  createRun,
  deleteTag,
  getRun,
  logBatch,
  logInputs,
  logMetric,
  logModel,
  logParam,
  searchRuns,
  setRunDeleted,
  setTag,
  updateRun,
} from './runs.js'
import { readFields } from './wire.js'

/** One percent-encoded path segment, decoded; bad encoding is the caller's mistake, not a server error. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw invalidParameter(`The path segment '${segment.slice(0, 100)}' is not valid percent-encoding`)
  }
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
type Handler = (request: MlflowRequest) => Promise<unknown>

/** One MLflow endpoint: its methods and its path after `mlflow/` (`:name` segments are parameters). */
interface Endpoint {
  methods: readonly Method[]
  path: string
  handler: Handler
}

const accepted: Handler = () => Promise.resolve({})

/** server-info: what this server supports, which newer clients ask before using workspaces or multipart uploads. */
const serverInfo: Handler = () =>
  Promise.resolve({
    store_type: 'SqlStore',
    workspaces_enabled: false,
    multipart_uploads_enabled: false,
    multipart_downloads_enabled: false,
  })

/** The tracking endpoints, as MLflow's service registers them (literal paths before parameterised ones). */
const ENDPOINTS: readonly Endpoint[] = [
  { methods: ['POST'], path: 'experiments/create', handler: createExperiment },
  { methods: ['GET'], path: 'experiments/get', handler: getExperiment },
  { methods: ['GET'], path: 'experiments/get-by-name', handler: getExperimentByName },
  { methods: ['GET', 'POST'], path: 'experiments/search', handler: searchExperiments },
  { methods: ['POST'], path: 'experiments/update', handler: updateExperiment },
  { methods: ['POST'], path: 'experiments/delete', handler: setExperimentDeleted(true) },
  { methods: ['POST'], path: 'experiments/restore', handler: setExperimentDeleted(false) },
  { methods: ['POST'], path: 'experiments/set-experiment-tag', handler: setExperimentTag },
  { methods: ['POST'], path: 'experiments/delete-experiment-tag', handler: deleteExperimentTag },
  { methods: ['POST'], path: 'runs/create', handler: createRun },
  { methods: ['GET'], path: 'runs/get', handler: getRun },
  { methods: ['POST'], path: 'runs/update', handler: updateRun },
  { methods: ['POST'], path: 'runs/delete', handler: setRunDeleted(true) },
  { methods: ['POST'], path: 'runs/restore', handler: setRunDeleted(false) },
  { methods: ['POST', 'GET'], path: 'runs/search', handler: searchRuns },
  { methods: ['POST'], path: 'runs/log-metric', handler: logMetric },
  { methods: ['POST'], path: 'runs/log-parameter', handler: logParam },
  { methods: ['POST'], path: 'runs/set-tag', handler: setTag },
  { methods: ['POST'], path: 'runs/delete-tag', handler: deleteTag },
  { methods: ['POST'], path: 'runs/log-batch', handler: logBatch },
  { methods: ['POST'], path: 'runs/log-inputs', handler: logInputs },
  { methods: ['POST'], path: 'runs/log-model', handler: logModel },
  // A run's models are the logged models whose source it is; linking them again changes nothing.
  { methods: ['POST'], path: 'runs/outputs', handler: accepted },
  { methods: ['GET'], path: 'metrics/get-history', handler: getMetricHistory },
  { methods: ['GET'], path: 'metrics/get-history-bulk-interval', handler: getMetricHistoryBulkInterval },
  { methods: ['GET'], path: 'artifacts/list', handler: listRunArtifacts },
  { methods: ['POST'], path: 'logged-models', handler: createLoggedModel },
  { methods: ['POST'], path: 'logged-models/search', handler: searchLoggedModels },
  { methods: ['GET'], path: 'logged-models/:model_id', handler: getLoggedModel },
  { methods: ['PATCH'], path: 'logged-models/:model_id', handler: finalizeLoggedModel },
  { methods: ['DELETE'], path: 'logged-models/:model_id', handler: deleteLoggedModel },
  { methods: ['PATCH'], path: 'logged-models/:model_id/tags', handler: setLoggedModelTags },
  { methods: ['DELETE'], path: 'logged-models/:model_id/tags/:tag_key', handler: deleteLoggedModelTag },
  { methods: ['POST'], path: 'logged-models/:model_id/params', handler: logLoggedModelParams },
  { methods: ['GET'], path: 'server-info', handler: serverInfo },
  // The model registry, over Wharf's assets.
  { methods: ['POST'], path: 'registered-models/create', handler: createRegisteredModel },
  { methods: ['GET'], path: 'registered-models/get', handler: getRegisteredModel },
  { methods: ['GET', 'POST'], path: 'registered-models/search', handler: searchRegisteredModels },
  { methods: ['GET', 'POST'], path: 'registered-models/get-latest-versions', handler: getLatestVersions },
  { methods: ['POST'], path: 'model-versions/create', handler: createModelVersion },
  { methods: ['GET'], path: 'model-versions/get', handler: getModelVersion },
  { methods: ['GET'], path: 'model-versions/get-download-uri', handler: getModelVersionDownloadUri },
  { methods: ['GET', 'POST'], path: 'model-versions/search', handler: searchModelVersions },
  // A version's description and tags are the asset version's; a registered model keeps neither.
  { methods: ['PATCH'], path: 'model-versions/update', handler: updateModelVersion },
  { methods: ['POST'], path: 'model-versions/set-tag', handler: setModelVersionTag },
  { methods: ['DELETE'], path: 'model-versions/delete-tag', handler: deleteModelVersionTag },
  {
    methods: ['PATCH'],
    path: 'registered-models/update',
    handler: unsupportedRegisteredModelMetadata("Updating a registered model's description"),
  },
  {
    methods: ['POST'],
    path: 'registered-models/set-tag',
    handler: unsupportedRegisteredModelMetadata('Setting a registered model tag'),
  },
  {
    methods: ['DELETE'],
    path: 'registered-models/delete-tag',
    handler: unsupportedRegisteredModelMetadata('Deleting a registered model tag'),
  },
  { methods: ['POST'], path: 'registered-models/rename', handler: unsupportedRegistryChange('Renaming a registered model') },
  { methods: ['DELETE'], path: 'registered-models/delete', handler: unsupportedRegistryChange('Deleting a registered model') },
  { methods: ['DELETE'], path: 'model-versions/delete', handler: unsupportedRegistryChange('Deleting a model version') },
  {
    methods: ['POST'],
    path: 'model-versions/transition-stage',
    handler: unsupportedRegistryChange('Moving a model version between stages'),
  },
  // Aliases are Wharf asset aliases (`wharf asset alias`, `name@alias`).
  { methods: ['POST'], path: 'registered-models/alias', handler: setRegisteredModelAlias },
  { methods: ['DELETE'], path: 'registered-models/alias', handler: deleteRegisteredModelAlias },
  { methods: ['GET'], path: 'registered-models/alias', handler: getModelVersionByAlias },
]

/** The path prefixes of MLflow's tracking service (REST and the UI's ajax form, API versions 2 and 3). */
const TRACKING_PREFIXES = ['/api/2.0/mlflow/', '/ajax-api/2.0/mlflow/', '/api/3.0/mlflow/', '/ajax-api/3.0/mlflow/'] as const
/** The path prefixes of MLflow's artifact proxy. */
const ARTIFACT_PREFIXES = ['/api/2.0/mlflow-artifacts/', '/ajax-api/2.0/mlflow-artifacts/'] as const

/** True for a path of the MLflow API: its errors are answered in MLflow's shape. */
export function isMlflowPath(path: string): boolean {
  return [...TRACKING_PREFIXES, ...ARTIFACT_PREFIXES].some((prefix) => path.startsWith(prefix))
}

/** An error answered in MLflow's shape; server faults go to the log. */
export function mlflowErrorResponse(c: AppContext, error: unknown, deps: Pick<AppDeps, 'log'>): Response {
  const { status, body, internal } = toMlflowError(error)
  if (internal) deps.log.error('unhandled error in the MLflow API', { path: c.req.path, error })
  return c.json(body, status as 400)
}

function matchEndpoint(
  path: string,
  method: string,
): { endpoint: Endpoint; params: Record<string, string> } | 'wrong-method' | undefined {
  const segments = path.split('/')
  let wrongMethod = false
  for (const endpoint of ENDPOINTS) {
    const pattern = endpoint.path.split('/')
    if (pattern.length !== segments.length) continue
    const params: Record<string, string> = {}
    const fits = pattern.every((part, i) => {
      const segment = segments[i] ?? ''
      if (part.startsWith(':')) {
        params[part.slice(1)] = decodeSegment(segment)
        return segment !== ''
      }
      return part === segment
    })
    if (!fits) continue
    if ((endpoint.methods as readonly string[]).includes(method)) return { endpoint, params }
    wrongMethod = true
  }
  return wrongMethod ? 'wrong-method' : undefined
}

/** The raw path after `prefix`, or undefined when the request is not under it. */
function after(c: AppContext, prefixes: readonly string[]): string | undefined {
  const pathname = new URL(c.req.url).pathname
  const prefix = prefixes.find((p) => pathname.startsWith(p))
  return prefix === undefined ? undefined : pathname.slice(prefix.length)
}

/**
 * A run token may write to its run only, which MLflow's paths cannot hold it to (they name runs in
 * bodies and artifact paths of every shape): the MLflow API takes the server's token, not run tokens.
 */
function refuseRunToken(c: AppContext): void {
  if (c.get('runToken') !== undefined) {
    throw new MlflowError(
      'PERMISSION_DENIED',
      'the MLflow API does not take run tokens; set MLFLOW_TRACKING_TOKEN to the server token',
    )
  }
}

function notFound(c: AppContext): MlflowError {
  return new MlflowError('ENDPOINT_NOT_FOUND', `No MLflow endpoint ${c.req.method} ${c.req.path} on this server`)
}

/**
 * Mounts MLflow's REST API (tracking, logged models, artifact proxy) over the same store and artifact
 * datastore the native API uses, in the default workspace. Mounted after the token check: MLflow
 * clients send the server's token as `Authorization: Bearer` (MLFLOW_TRACKING_TOKEN).
 */
export function mountMlflow(app: Hono<AppEnv>, deps: AppDeps): void {
  const workspace = DEFAULT_WORKSPACE
  const request = async (c: AppContext, params: Record<string, string>): Promise<MlflowRequest> => ({
    deps,
    workspace,
    c,
    fields: await readFields(c, deps.config.limits.jsonBodyBytes),
    params,
    experiments: new ExperimentCache(deps, workspace),
  })

  const tracking = async (c: AppContext): Promise<Response> => {
    try {
      refuseRunToken(c)
      const path = after(c, TRACKING_PREFIXES) ?? ''
      const found = matchEndpoint(path, c.req.method)
      if (found === undefined) throw notFound(c)
      if (found === 'wrong-method') throw new MlflowError('ENDPOINT_NOT_FOUND', `${c.req.path} does not take ${c.req.method}`)
      const answer = await found.endpoint.handler(await request(c, found.params))
      return answer instanceof Response ? answer : c.json(answer as Record<string, unknown>)
    } catch (error) {
      return mlflowErrorResponse(c, error, deps)
    }
  }

  const artifacts = async (c: AppContext): Promise<Response> => {
    try {
      refuseRunToken(c)
      const path = after(c, ARTIFACT_PREFIXES) ?? ''
      if (path.startsWith('mpu/')) {
        throw new MlflowError(
          'NOT_IMPLEMENTED',
          'Multipart upload is not supported by this server; upload each file with one PUT',
        )
      }
      if (path === 'artifacts' && c.req.method === 'GET')
        return c.json((await listProxyArtifacts(await request(c, {}))) as Record<string, unknown>)
      if (!path.startsWith('artifacts/')) throw notFound(c)
      const raw = path.slice('artifacts/'.length).split('/').map(decodeSegment).join('/')
      assertWithinLimit(deps.config.limits, 'artifactPathLength', { what: 'the artifact path length', actual: raw.length })
      const base: MlflowRequest = {
        deps,
        workspace,
        c,
        fields: {},
        params: {},
        experiments: new ExperimentCache(deps, workspace),
      }
      switch (c.req.method) {
        case 'GET':
          return await downloadProxyArtifact(base, raw)
        case 'PUT':
          return c.json((await uploadProxyArtifact(base, raw)) as Record<string, unknown>)
        case 'DELETE':
          throw new MlflowError('NOT_IMPLEMENTED', 'artifacts cannot be deleted on this server: a run keeps its artifacts')
        default:
          throw notFound(c)
      }
    } catch (error) {
      return mlflowErrorResponse(c, error, deps)
    }
  }

  for (const prefix of TRACKING_PREFIXES) app.all(`${prefix}*`, tracking)
  for (const prefix of ARTIFACT_PREFIXES) app.all(`${prefix}*`, artifacts)
}
