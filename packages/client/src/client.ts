import type { z } from 'zod'
import {
  MSGPACK_MEDIA_TYPE,
  ROUTES,
  WharfError,
  decodeSeriesColumns,
  encodeMetricBatch,
  isErrorCode,
  isWharfError,
  routePath,
  toJson,
  type Artifact,
  type AssetAlias,
  type AssetSummary,
  type AssetVersion,
  type PromoteAssetRequest,
  type UpdateAssetVersionRequest,
  type CreateRunRequest,
  type Experiment,
  type IngestResult,
  type ListRunsQuery,
  type MetricBatch,
  type MetricBuckets,
  type MetricBucketsQuery,
  type MetricColumnsPage,
  type MetricPoint,
  type MetricSeriesQuery,
  type MetricSummary,
  type Run,
  type RunError,
  type RunStatus,
  type RunWithMetrics,
  type UpdateRunRequest,
  type Workspace,
  type Datastore,
  type DatastoreAccess,
  type DatastoreFile,
  type DatastoreFilePage,
  type RegisterDatastoreRequest,
  type StoredFile,
  type Health,
  type Limits,
  type RouteDef,
  type RouteName,
  paginate,
  type PagedIterable,
} from '@wharf/contract'

/** How to reach a server. */
export interface WharfClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:5050`. */
  url: string
  /** Bearer token, when the server requires one. */
  token?: string
  /** Workspace the calls act on; `default` unless given. */
  workspace?: string
  /** Per-request timeout in milliseconds (not applied to streamed artifact bodies). Default 30 s. */
  timeoutMs?: number
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch
  /**
   * How {@link WharfClient.logMetrics} writes a batch: `msgpack` (the default: float64 columns, far
   * cheaper to write and read than JSON; decision 0029) or `json`. A server that reads only JSON is
   * sent JSON from its first refusal on.
   */
  metricWire?: MetricWire
}

/** The body forms of a metric batch: see {@link WharfClientOptions.metricWire}. */
export const METRIC_WIRES = ['msgpack', 'json'] as const
/** One of {@link METRIC_WIRES}. */
export type MetricWire = (typeof METRIC_WIRES)[number]

/** What to upload as an artifact, and where in the run. */
export interface UploadArtifactOptions extends CallOptions {
  /** The artifact path in the run, e.g. `outputs/model.bin`. */
  path: string
  body: ReadableStream<Uint8Array> | Uint8Array | string | Blob
  /** Byte count; give it with a stream so the server can check it and refuse oversize uploads early. */
  size?: number
  contentType?: string
}

/** Options every call accepts. */
export interface CallOptions {
  signal?: AbortSignal
}

type ResponseOf<N extends RouteName> = (typeof ROUTES)[N]['response'] extends z.ZodType
  ? z.output<(typeof ROUTES)[N]['response']>
  : never

type QueryValue = string | number | boolean | undefined | readonly (string | number)[]

interface RequestSpec {
  params?: Record<string, string>
  query?: Record<string, QueryValue>
  body?: unknown
  signal?: AbortSignal | undefined
  /** Appended (already encoded) after the path, for routes ending in `*`. */
  rest?: string
}

/**
 * Encodes an artifact path for a URL, segment by segment, keeping its slashes. Throws UNSAFE_PATH for
 * `.` and `..` segments: URL parsing would resolve them away (even percent-encoded) and send another path.
 */
export function encodePath(path: string): string {
  const segments = path.split('/')
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new WharfError('UNSAFE_PATH', `path "${path}" has a "." or ".." segment; give the path without them`)
  }
  return segments.map(encodeURIComponent).join('/')
}

/**
 * A typed HTTP client over the Wharf API. Every failure is a WharfError: the server's own code and
 * message for an error response, SERVER_UNREACHABLE when the server cannot be reached.
 */
export class WharfClient {
  readonly url: string
  readonly workspace: string
  readonly #token: string | undefined
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch
  #serverLimits: Readonly<Limits> | undefined
  #metricWire: MetricWire

  constructor(options: WharfClientOptions) {
    this.url = options.url.replace(/\/+$/, '')
    this.workspace = options.workspace ?? 'default'
    this.#token = options.token
    this.#timeoutMs = options.timeoutMs ?? 30_000
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.#metricWire = options.metricWire ?? 'msgpack'
  }

  /** The same server and token (and the server limits already read), acting on another workspace. */
  withWorkspace(workspace: string): WharfClient {
    const other = new WharfClient({
      url: this.url,
      workspace,
      timeoutMs: this.#timeoutMs,
      fetch: this.#fetch,
      metricWire: this.#metricWire,
      ...(this.#token !== undefined ? { token: this.#token } : {}),
    })
    // The same server: the limits it told this client hold for the other workspace too.
    other.#serverLimits = this.#serverLimits
    return other
  }

  #url(route: RouteDef, spec: RequestSpec): string {
    let path = routePath(route.path, { workspace: this.workspace, ...spec.params })
    if (path.endsWith('*')) path = path.slice(0, -1) + (spec.rest ?? '')
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value === undefined) continue
      if (Array.isArray(value)) for (const v of value as readonly (string | number)[]) search.append(key, String(v))
      else search.append(key, String(value))
    }
    const qs = search.toString()
    return `${this.url}${path}${qs ? `?${qs}` : ''}`
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#token === undefined ? extra : { ...extra, authorization: `Bearer ${this.#token}` }
  }

  /** Sends a request and returns the raw Response when it succeeded (2xx); throws a WharfError otherwise. */
  async send(
    route: RouteDef,
    spec: RequestSpec & { rawBody?: NonNullable<RequestInit['body']>; headers?: Record<string, string>; timeout?: boolean },
  ): Promise<Response> {
    const url = this.#url(route, spec)
    const signals: AbortSignal[] = []
    if (spec.signal) signals.push(spec.signal)
    if (spec.timeout !== false) signals.push(AbortSignal.timeout(this.#timeoutMs))
    const init: RequestInit & { duplex?: 'half' } = {
      method: route.method,
      headers: this.#headers(spec.headers),
      signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals),
    }
    if (spec.body !== undefined) {
      init.body = toJson(spec.body) // -0 stays -0
      init.headers = this.#headers({ 'content-type': 'application/json', ...spec.headers })
    } else if (spec.rawBody !== undefined) {
      init.body = spec.rawBody
      if (typeof ReadableStream !== 'undefined' && spec.rawBody instanceof ReadableStream) init.duplex = 'half'
    }
    let response: Response
    try {
      response = await this.#fetch(url, init)
    } catch (cause) {
      throw this.#transportError(cause, route)
    }
    if (!response.ok) throw await errorFromResponse(response)
    return response
  }

  #transportError(cause: unknown, route: RouteDef): WharfError {
    const error = cause as Error
    if (error.name === 'TimeoutError') {
      return new WharfError(
        'SERVER_UNREACHABLE',
        `the Wharf server at ${this.url} did not answer ${route.method} ${route.path} within ${this.#timeoutMs} ms`,
        { cause },
      )
    }
    if (error.name === 'AbortError') {
      return new WharfError('ABORTED', `${route.method} ${route.path} was aborted by the caller before the server answered`, {
        cause,
      })
    }
    return new WharfError(
      'SERVER_UNREACHABLE',
      `cannot reach the Wharf server at ${this.url} (${describeCause(cause)}); start it with "npm start" or "wharf server", or point WHARF_TRACKING_URI at it`,
      { cause },
    )
  }

  /** Calls a JSON route by name and returns its typed response. */
  async call<N extends RouteName>(name: N, spec: RequestSpec = {}): Promise<ResponseOf<N>> {
    const route = ROUTES[name]
    return this.#readJson(route, await this.send(route, spec))
  }

  async #readJson<T>(route: RouteDef, response: Response): Promise<T> {
    try {
      return (await response.json()) as T
    } catch (cause) {
      // The status said success but the body did not arrive whole: the server went away mid-answer.
      throw this.#transportError(cause, route)
    }
  }

  // ------------------------------------------------------------------ meta and workspaces

  /** Server health, version, store kind and limits; the limits are kept as {@link serverLimits}. */
  async health(options: CallOptions = {}): Promise<Health> {
    const health = await this.call('health', { signal: options.signal })
    // A server from before limits were told answers without them: the caller keeps its defaults.
    if (health.limits !== undefined) this.#serverLimits = Object.freeze({ ...health.limits })
    return health
  }

  /** The limits the server told in its last health answer; undefined before one. */
  get serverLimits(): Readonly<Limits> | undefined {
    return this.#serverLimits
  }

  async listWorkspaces(options: CallOptions = {}): Promise<Workspace[]> {
    return (await this.call('listWorkspaces', { signal: options.signal })).items
  }

  /** Creates a workspace with its two default datastores; WORKSPACE_EXISTS if taken. */
  createWorkspace(name: string, options: CallOptions = {}): Promise<Workspace> {
    return this.call('createWorkspace', { body: { name }, signal: options.signal })
  }

  /** This client's workspace. */
  getWorkspace(options: CallOptions = {}): Promise<Workspace> {
    return this.call('getWorkspace', { signal: options.signal })
  }

  async listDatastores(options: CallOptions = {}): Promise<Datastore[]> {
    return (await this.call('listDatastores', { signal: options.signal })).items
  }

  getDatastore(name: string, options: CallOptions = {}): Promise<Datastore> {
    return this.call('getDatastore', { params: { datastore: name }, signal: options.signal })
  }

  /** Registers storage; DATASTORE_EXISTS unless `overwrite` (which is how keys are rotated). */
  registerDatastore(request: RegisterDatastoreRequest, options: CallOptions = {}): Promise<Datastore> {
    return this.call('registerDatastore', { body: request, signal: options.signal })
  }

  /** Removes a registration; the storage and its files are left as they are. */
  async unregisterDatastore(name: string, options: CallOptions = {}): Promise<void> {
    await this.call('unregisterDatastore', { params: { datastore: name }, signal: options.signal })
  }

  /** Makes `name` the workspace's default datastore. */
  setDefaultDatastore(name: string, options: CallOptions = {}): Promise<Workspace> {
    return this.call('setDefaultDatastore', { body: { name }, signal: options.signal })
  }

  /** How to reach a datastore's bytes for an operation (a short-lived SAS, a shared folder, or the server). */
  datastoreAccess(name: string, operation: 'read' | 'write', options: CallOptions = {}): Promise<DatastoreAccess> {
    return this.call('datastoreAccess', { params: { datastore: name }, body: { operation }, signal: options.signal })
  }

  /**
   * Files of a datastore in path order, optionally under a string prefix, a page at a time. Stored names that cannot be paths (`a/../b`,
   * `folder/`) are not items; each page lists those of its stretch in `skipped`, with the reason.
   */
  listDatastoreFiles(
    name: string,
    options: CallOptions & { prefix?: string; pageSize?: number; pageToken?: string } = {},
  ): PagedIterable<DatastoreFile, DatastoreFilePage> {
    return paginate(
      (pageToken, pageSize) =>
        this.call('listDatastoreFiles', {
          params: { datastore: name },
          query: { prefix: options.prefix, pageSize, pageToken },
          signal: options.signal,
        }),
      { pageSize: options.pageSize, pageToken: options.pageToken },
    )
  }

  /** Uploads one file (a stream is sent as it is read); FILE_EXISTS unless `overwrite`. */
  async uploadDatastoreFile(
    name: string,
    options: CallOptions & {
      path: string
      body: UploadArtifactOptions['body']
      size?: number
      contentType?: string
      overwrite?: boolean
    },
  ): Promise<StoredFile> {
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/octet-stream' }
    if (options.size !== undefined) headers['content-length'] = String(options.size)
    const response = await this.send(ROUTES.uploadDatastoreFile, {
      params: { datastore: name },
      rest: encodePath(options.path),
      query: { overwrite: options.overwrite === true ? 'true' : 'false' },
      rawBody: options.body as NonNullable<RequestInit['body']>,
      headers,
      signal: options.signal,
      timeout: false,
    })
    return (await response.json()) as StoredFile
  }

  /** Opens a datastore file for download: the response's body streams the bytes (or the asked range). */
  downloadDatastoreFile(
    name: string,
    path: string,
    options: CallOptions & { range?: { start: number; end?: number } } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {}
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ''}`
    return this.send(ROUTES.downloadDatastoreFile, {
      params: { datastore: name },
      rest: encodePath(path),
      headers,
      signal: options.signal,
      timeout: false,
    })
  }

  /** Deletes one datastore file; FILE_NOT_FOUND when there is no file at `path` (nothing was deleted). */
  async deleteDatastoreFile(name: string, path: string, options: CallOptions = {}): Promise<void> {
    await this.call('deleteDatastoreFile', { params: { datastore: name }, rest: encodePath(path), signal: options.signal })
  }

  // ------------------------------------------------------------------ experiments

  /** All experiments, by name, fetched a page at a time. */
  listExperiments(options: CallOptions & { pageSize?: number } = {}): PagedIterable<Experiment> {
    return paginate(
      (pageToken, pageSize) => this.call('listExperiments', { query: { pageSize, pageToken }, signal: options.signal }),
      { pageSize: options.pageSize },
    )
  }

  /** Gets or creates an experiment (idempotent). */
  createExperiment(name: string, options: CallOptions = {}): Promise<Experiment> {
    return this.call('createExperiment', { body: { name }, signal: options.signal })
  }

  getExperiment(name: string, options: CallOptions = {}): Promise<Experiment> {
    return this.call('getExperiment', { params: { experiment: name }, signal: options.signal })
  }

  // ------------------------------------------------------------------ runs

  /** Creates a run; its experiment is created on first use. */
  createRun(request: CreateRunRequest, options: CallOptions = {}): Promise<Run> {
    return this.call('createRun', { body: request, signal: options.signal })
  }

  getRun(runId: string, options: CallOptions = {}): Promise<Run> {
    return this.call('getRun', { params: { runId }, signal: options.signal })
  }

  /** Runs matching the query, newest first unless ordered otherwise, fetched a page at a time. */
  listRuns(query: Omit<ListRunsQuery, 'pageToken'> = {}, options: CallOptions = {}): PagedIterable<RunWithMetrics> {
    return paginate(
      (pageToken, pageSize) => this.call('listRuns', { query: { ...query, pageSize, pageToken }, signal: options.signal }),
      { pageSize: query.pageSize },
    )
  }

  updateRun(runId: string, patch: UpdateRunRequest, options: CallOptions = {}): Promise<Run> {
    return this.call('updateRun', { params: { runId }, body: patch, signal: options.signal })
  }

  /** Moves a run along its lifecycle; INVALID_STATUS_TRANSITION for an illegal move. */
  setRunStatus(runId: string, status: RunStatus, options: CallOptions & { error?: RunError; at?: string } = {}): Promise<Run> {
    return this.call('setRunStatus', {
      params: { runId },
      body: {
        status,
        ...(options.error ? { error: options.error } : {}),
        ...(options.at !== undefined ? { at: options.at } : {}),
      },
      signal: options.signal,
    })
  }

  updateTags(
    runId: string,
    change: { set?: Record<string, string>; remove?: string[] },
    options: CallOptions = {},
  ): Promise<Run> {
    return this.call('updateTags', { params: { runId }, body: change, signal: options.signal })
  }

  /** Adds properties; PROPERTY_IMMUTABLE when one would change. */
  addProperties(runId: string, properties: Record<string, string>, options: CallOptions = {}): Promise<Run> {
    return this.call('addProperties', { params: { runId }, body: { properties }, signal: options.signal })
  }

  // ------------------------------------------------------------------ metrics

  /** Stores a batch; resolves once it is committed. Idempotent per (writerId, sequence). */
  async logMetrics(runId: string, batch: MetricBatch, options: CallOptions = {}): Promise<IngestResult> {
    if (this.#metricWire === 'msgpack') {
      const route = ROUTES.logMetrics
      try {
        const response = await this.send(route, {
          params: { runId },
          // A fresh buffer of its own (never a SharedArrayBuffer), as the DOM's BodyInit wants it typed.
          rawBody: encodeMetricBatch(batch) as Uint8Array<ArrayBuffer>,
          headers: { 'content-type': MSGPACK_MEDIA_TYPE },
          signal: options.signal,
        })
        return await this.#readJson<IngestResult>(route, response)
      } catch (error) {
        // A server from before MessagePack bodies (or a proxy in front of one) refused the batch
        // unread: JSON from now on.
        if (!isWharfError(error) || (error.code !== 'UNSUPPORTED_MEDIA_TYPE' && error.details?.status !== 415)) throw error
        this.#metricWire = 'json'
      }
    }
    return this.call('logMetrics', { params: { runId }, body: batch, signal: options.signal })
  }

  async listMetrics(runId: string, options: CallOptions = {}): Promise<MetricSummary[]> {
    return (await this.call('listMetrics', { params: { runId }, signal: options.signal })).items
  }

  /** Raw points of one metric by step, fetched a page at a time. */
  getMetricSeries(
    runId: string,
    query: Omit<MetricSeriesQuery, 'pageToken'>,
    options: CallOptions = {},
  ): PagedIterable<MetricPoint> {
    return paginate(
      (pageToken, pageSize) =>
        this.call('getMetricSeries', { params: { runId }, query: { ...query, pageSize, pageToken }, signal: options.signal }),
      { pageSize: query.pageSize },
    )
  }

  /**
   * Raw points of one metric as float64 columns, a page at a time (the MessagePack form of the series
   * read: the fast way to fetch a long series whole).
   */
  async getMetricColumns(
    runId: string,
    query: Omit<MetricSeriesQuery, 'format'>,
    options: CallOptions = {},
  ): Promise<MetricColumnsPage> {
    const route = ROUTES.getMetricSeries
    const response = await this.send(route, {
      params: { runId },
      query: { ...query, format: 'msgpack' },
      signal: options.signal,
    })
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await response.arrayBuffer())
    } catch (cause) {
      throw this.#transportError(cause, route)
    }
    return decodeSeriesColumns(bytes)
  }

  /** One metric downsampled into per-bucket min/max/first/last. */
  getMetricBuckets(runId: string, query: MetricBucketsQuery, options: CallOptions = {}): Promise<MetricBuckets> {
    return this.call('getMetricBuckets', { params: { runId }, query, signal: options.signal })
  }

  // ------------------------------------------------------------------ artifacts

  /** Artifacts of a run, by path, optionally under a prefix, fetched a page at a time. */
  listArtifacts(runId: string, options: CallOptions & { prefix?: string; pageSize?: number } = {}): PagedIterable<Artifact> {
    return paginate(
      (pageToken, pageSize) =>
        this.call('listArtifacts', {
          params: { runId },
          query: { prefix: options.prefix, pageSize, pageToken },
          signal: options.signal,
        }),
      { pageSize: options.pageSize },
    )
  }

  /**
   * Uploads one artifact to `options.path`. `body` may be a stream (sent as it is read, never
   * buffered), bytes or text. Pass `size` with a stream so the server can check it.
   */
  async uploadArtifact(runId: string, options: UploadArtifactOptions): Promise<Artifact> {
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/octet-stream' }
    if (options.size !== undefined) headers['content-length'] = String(options.size)
    const response = await this.send(ROUTES.uploadArtifact, {
      params: { runId },
      rest: encodePath(options.path),
      rawBody: options.body as NonNullable<RequestInit['body']>,
      headers,
      signal: options.signal,
      timeout: false,
    })
    return (await response.json()) as Artifact
  }

  // ------------------------------------------------------------------ assets

  /** Promotes a run's artifact (or folder of artifacts) to the next version of the named asset. */
  promoteAsset(request: PromoteAssetRequest, options: CallOptions = {}): Promise<AssetVersion> {
    return this.call('promoteAsset', { body: request, signal: options.signal })
  }

  /** Assets by name with their latest version, fetched a page at a time. */
  listAssets(options: CallOptions & { pageSize?: number } = {}): PagedIterable<AssetSummary> {
    return paginate(
      (pageToken, pageSize) => this.call('listAssets', { query: { pageSize, pageToken }, signal: options.signal }),
      { pageSize: options.pageSize },
    )
  }

  /** Versions of one asset, newest first (without their file lists). ASSET_NOT_FOUND. */
  listAssetVersions(name: string, options: CallOptions & { pageSize?: number } = {}): PagedIterable<AssetVersion> {
    return paginate(
      (pageToken, pageSize) =>
        this.call('listAssetVersions', {
          params: { asset: name },
          query: { pageSize, pageToken },
          signal: options.signal,
        }),
      { pageSize: options.pageSize },
    )
  }

  /**
   * One version of an asset with its files: by number, `latest` for the newest, or an alias name for the
   * version it points at. ASSET_NOT_FOUND; ASSET_ALIAS_NOT_FOUND.
   */
  getAssetVersion(name: string, version: number | string, options: CallOptions = {}): Promise<AssetVersion> {
    return this.call('getAssetVersion', { params: { asset: name, version: String(version) }, signal: options.signal })
  }

  /**
   * Edits a version's description and tags (set, then removed); its files never change. The version is
   * a number, `latest` or an alias, as for reading. Answers the version with its files. ASSET_NOT_FOUND.
   */
  updateAssetVersion(
    target: { name: string; version: number | string },
    change: UpdateAssetVersionRequest,
    options: CallOptions = {},
  ): Promise<AssetVersion> {
    return this.call('updateAssetVersion', {
      params: { asset: target.name, version: String(target.version) },
      body: change,
      signal: options.signal,
    })
  }

  /** The aliases of an asset by name, each with the version it points at. ASSET_NOT_FOUND. */
  async listAssetAliases(name: string, options: CallOptions = {}): Promise<AssetAlias[]> {
    return (await this.call('listAssetAliases', { params: { asset: name }, signal: options.signal })).items
  }

  /** Points `alias` at a version of the asset (made, or moved). ASSET_NOT_FOUND when the version is not there. */
  setAssetAlias(target: { name: string; alias: string; version: number }, options: CallOptions = {}): Promise<AssetAlias> {
    return this.call('setAssetAlias', {
      params: { asset: target.name, alias: target.alias },
      body: { version: target.version },
      signal: options.signal,
    })
  }

  /** Removes an alias; the answer's `deleted` is false when the asset had no such alias. ASSET_NOT_FOUND. */
  deleteAssetAlias(
    target: { name: string; alias: string },
    options: CallOptions = {},
  ): Promise<{ name: string; alias: string; deleted: boolean }> {
    return this.call('deleteAssetAlias', { params: { asset: target.name, alias: target.alias }, signal: options.signal })
  }

  /** Opens one file of an asset version for download; the response's body streams it. */
  async downloadAssetFile(
    asset: { name: string; version: number; path: string },
    options: CallOptions & { range?: { start: number; end?: number } } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {}
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ''}`
    return this.send(ROUTES.downloadAssetFile, {
      params: { asset: asset.name, version: String(asset.version) },
      rest: encodePath(asset.path),
      headers,
      signal: options.signal,
      timeout: false,
    })
  }

  /** Opens an artifact for download: the response's body streams the bytes (or the asked range). */
  async downloadArtifact(
    runId: string,
    path: string,
    options: CallOptions & { range?: { start: number; end?: number } } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {}
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ''}`
    return this.send(ROUTES.downloadArtifact, {
      params: { runId },
      rest: encodePath(path),
      headers,
      signal: options.signal,
      timeout: false,
    })
  }
}

function describeCause(cause: unknown): string {
  const error = cause as Error & { cause?: { code?: string; message?: string } }
  return error.cause?.code ?? error.cause?.message ?? error.message
}

/** Rebuilds the WharfError an error response carries; unknown shapes become INTERNAL with the status. */
export async function errorFromResponse(response: Response): Promise<WharfError> {
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } }
    const { code, message, details } = body.error ?? {}
    if (isErrorCode(code) && typeof message === 'string') {
      return new WharfError(code, message, details ? { details } : {})
    }
  } catch {
    // Not our JSON: a proxy or another server answered. Fall through with what we have.
  }
  return new WharfError('INTERNAL', `unexpected HTTP ${response.status} from the server: ${text.slice(0, 200)}`, {
    details: { status: response.status },
  })
}
