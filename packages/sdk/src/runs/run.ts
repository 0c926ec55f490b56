import { once } from 'node:events'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import {
  NAME_RULES,
  WharfError,
  assertName,
  isTerminalStatus,
  isWharfError,
  type Artifact,
  type AssetVersion,
  type MetricPoint,
  type Run as RunInfo,
  type RunDefinition,
  type RunLogSummary,
  type RunStatus,
} from '@wharf/contract'
import { listLocalFiles, localRelativeOf, runPool, toDatastoreKey } from '@wharf/datastores'
import { MetricLogger, type PendingLog } from '../logging/metric-logger.js'
import { isRetryable, resolveRetryPolicy, retryRequest } from '../retry.js'
import { spoolRunArtifact, spoolRunEnding, spoolRunFolder, spooledRunFolder } from './run-spool.js'
import { downloadVerified, localPathUnder, placedPaths, requireAllPlaced, serverFile } from '../data/download.js'
import { TRANSFER_CONCURRENCY, uploadArtifactFile } from '../data/transfer.js'
import type { WorkspaceConnection } from '../config/connection.js'
import { STD_LOG, listRunLogs, readRunLog } from './run-log.js'

/** A metric value as read back: numbers (NaN and ±Infinity included) or strings. */
export type MetricValue = number | string

/** Options of `Run.log`. */
export interface LogOptions {
  /**
   * Step of the point: a whole number from 0 (else INVALID_ARGUMENT at the call). By default the server
   * gives the point the metric's next step. Points with and without a step may be mixed in one metric.
   */
  step?: number
  description?: string
}

/** Options of `Run.registerModel`. */
export interface RegisterModelOptions {
  /** The asset name; the same name again adds a version. */
  modelName: string
  /**
   * The artifact (a file, or a folder of them) relative to the run's artifact root, such as
   * `outputs/model.pkl`; a path relative to `outputs/` is accepted too. Defaults to `modelName`.
   */
  modelPath?: string
  description?: string
  tags?: Record<string, string>
  /**
   * Aliases to point at the new version (`['candidate']`), moved from wherever they pointed: code that
   * loads `<modelName>@candidate` then gets this version. Checked before anything is registered.
   */
  aliases?: readonly string[]
  signal?: AbortSignal
}

/** Where an image comes from: a file, or bytes with their type. */
export type ImageSource = { path: string } | { data: Uint8Array; mimeType: string }

/**
 * How long ending a run waits for the server to take the metrics still unsent, through an outage:
 * long enough to ride out a server restart, short enough that a script whose server is gone ends.
 */
const END_WAIT_MS = 30_000

/** What a run left in the spool for `wharf sync` when it ended (see {@link Run.spooled}). */
export interface SpooledRunSummary {
  /** The spool folder. */
  spoolDir: string
  /** Metric points in spool files. */
  points: number
  /** Files copied into the spool, to upload as artifacts. */
  files: number
  /** The final status, set on the server by `wharf sync`. */
  status: RunStatus
  /** True when the run itself exists only in the spool (it started while the server was unreachable). */
  offline: boolean
}

const IMAGE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/svg+xml': 'svg',
  'image/webp': 'webp',
}

/**
 * One run: log metrics without waiting, upload and download its files, read it back, and end it.
 * Obtained from `Experiment.startLogging`, `Run.get`, `Run.getContext` or `run.childRun`.
 */
export class Run implements AsyncDisposable {
  readonly workspace: WorkspaceConnection
  readonly id: string
  readonly experiment: string
  #info: RunInfo
  #logger: MetricLogger | undefined
  #outputs: string | false
  /** A supervised run's ./outputs, which its runner uploads at the end (and registerModel before). */
  #runnerOutputs: string | undefined
  #rowSteps = new Map<string, number>()
  #finishing: Promise<RunInfo> | undefined
  readonly #offline: boolean
  readonly #supervised: boolean
  #spooled: SpooledRunSummary | undefined

  /**
   * `offline`: the run exists only in the spool so far (see `Experiment.startLogging`'s `whenUnreachable`).
   * `supervised`: this process is the script of the (submitted) run, so a runner sets its final status;
   * a run with a definition is taken as supervised anyway.
   */
  constructor(
    workspace: WorkspaceConnection,
    info: RunInfo,
    options: { outputs?: string | false; offline?: boolean; supervised?: boolean; runnerOutputs?: string } = {},
  ) {
    this.workspace = workspace
    this.id = info.id
    this.experiment = info.experiment
    this.#info = info
    this.#outputs = options.outputs ?? false
    this.#offline = options.offline === true
    this.#supervised = options.supervised === true
    this.#runnerOutputs = options.runnerOutputs
  }

  /**
   * True for a run a runner supervises (a submitted run): the runner, not this handle, sets its final
   * status, after uploading its outputs and logs (which the server refuses once the run has ended).
   */
  get #runnerOwnsStatus(): boolean {
    return this.#supervised || this.#info.definition !== null
  }

  /** An existing run of the workspace. RUN_NOT_FOUND if there is none with this id. */
  static async get(workspace: WorkspaceConnection, runId: string, options: { signal?: AbortSignal } = {}): Promise<Run> {
    return new Run(workspace, await workspace.client.getRun(runId, options))
  }

  /**
   * The run this process belongs to: the submitted run (WHARF_RUN_ID…) or, outside one, an interactive
   * run started on first use and ended with the process. The same run on every call.
   */
  static async getContext(): Promise<Run> {
    const { getContextRun } = await import('../context.js')
    return getContextRun()
  }

  /** The run as last read or changed through this handle. */
  get info(): RunInfo {
    return this.#info
  }

  /** True while the run exists only in the spool: it was started while the server was unreachable. */
  get offline(): boolean {
    return this.#offline
  }

  /** What the run left in the spool when it ended (the server could not be reached), or undefined. */
  get spooled(): SpooledRunSummary | undefined {
    return this.#spooled
  }

  /** The folder uploaded as `outputs/` when the run ends, or false. */
  get outputsFolder(): string | false {
    return this.#outputs
  }

  /** This run's metric logger (created on first use; replays any spooled batches of the run). */
  get logger(): MetricLogger {
    this.#logger ??= new MetricLogger({
      client: this.workspace.client,
      runId: this.id,
      spoolDir: this.workspace.spoolDir,
      ...(this.#offline ? { offline: true } : {}),
    })
    return this.#logger
  }

  // ------------------------------------------------------------------ metrics

  /**
   * Logs one value and returns at once. A bad name or value throws here; `await` (or `.wait()`) on
   * the result resolves once this point and all before it are stored on the server.
   */
  log(name: string, value: number | string | boolean, options?: LogOptions): PendingLog {
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : value
    // The hot path: no options object is made per call; the logger reads only the step of these.
    return this.logger.log(name, v, options)
  }

  /**
   * Logs a list as consecutive points of one metric (it becomes a chart). With `step`, the first
   * value is at that step and the others follow one apart; without, the server assigns the next ones.
   */
  logList(name: string, values: readonly (number | string)[], options?: LogOptions): PendingLog {
    return this.logger.logList(name, values, options)
  }

  /**
   * Logs one row of a table: each column becomes the metric `<name>/<column>`, all at the same step
   * (the row's index), so columns line up in charts.
   */
  logRow(name: string, row: Record<string, number | string>, _options: { description?: string } = {}): PendingLog {
    const step = this.#rowSteps.get(name) ?? 0
    this.#rowSteps.set(name, step + 1)
    let last: PendingLog | undefined
    for (const [column, value] of Object.entries(row)) last = this.logger.log(`${name}/${column}`, value, { step })
    if (!last) throw new WharfError('INVALID_ARGUMENT', `logRow("${name}") needs at least one column`)
    return last
  }

  /** Logs a whole table given as columns (`{ epoch: [1, 2], loss: [0.5, 0.4] }`), as rows in order. */
  logTable(
    name: string,
    table: Record<string, readonly (number | string)[]>,
    _options: { description?: string } = {},
  ): PendingLog {
    const columns = Object.entries(table)
    const length = columns[0]?.[1].length ?? 0
    if (columns.length === 0 || columns.some(([, values]) => values.length !== length)) {
      throw new WharfError('INVALID_ARGUMENT', `logTable("${name}") needs columns of equal length`)
    }
    let last: PendingLog | undefined
    for (let i = 0; i < length; i++) {
      last = this.logRow(name, Object.fromEntries(columns.map(([column, values]) => [column, values[i] as number | string])))
    }
    if (!last) throw new WharfError('INVALID_ARGUMENT', `logTable("${name}") has no rows`)
    return last
  }

  /**
   * Uploads an image as the artifact `images/<name>.<ext>` and logs the metric `<name>` with that
   * path as text, so the studio can show it.
   */
  async logImage(name: string, source: ImageSource, options: { signal?: AbortSignal } = {}): Promise<Artifact> {
    const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '_')
    let artifact: Artifact
    if ('path' in source) {
      const ext = path.extname(source.path) || '.png'
      artifact = await this.uploadFile(`images/${safe}${ext}`, source.path, options)
    } else {
      const ext = IMAGE_TYPES[source.mimeType]
      if (!ext)
        throw new WharfError(
          'INVALID_ARGUMENT',
          `image type "${source.mimeType}" is not one of ${Object.keys(IMAGE_TYPES).join(', ')}`,
        )
      artifact = await this.workspace.client.uploadArtifact(this.id, {
        path: `images/${safe}.${ext}`,
        body: source.data,
        contentType: source.mimeType,
        ...(options.signal ? { signal: options.signal } : {}),
      })
    }
    await this.logger.log(name, artifact.path).wait()
    return artifact
  }

  /** Waits until everything logged so far is stored; rejects with a typed error if it cannot be. */
  flush(options: { timeoutSeconds?: number } = {}): Promise<void> {
    return this.#logger ? this.#logger.flush({ timeoutMs: (options.timeoutSeconds ?? 300) * 1000 }) : Promise.resolve()
  }

  /**
   * The run's metrics: a single value for a metric logged once, else the list in step order. Reads
   * every point, so prefer `workspace.client.getMetricBuckets` for long series.
   */
  async getMetrics(options: { name?: string; signal?: AbortSignal } = {}): Promise<Record<string, MetricValue | MetricValue[]>> {
    await this.flush()
    const call = options.signal ? { signal: options.signal } : {}
    const names =
      options.name !== undefined ? [options.name] : (await this.workspace.client.listMetrics(this.id, call)).map((m) => m.name)
    const result: Record<string, MetricValue | MetricValue[]> = {}
    for (const name of names) {
      const values: MetricValue[] = []
      for await (const point of this.workspace.client.getMetricSeries(this.id, { name, pageSize: 1000 }, call)) {
        values.push(pointValue(point))
      }
      result[name] = values.length === 1 ? (values[0] as MetricValue) : values
    }
    return result
  }

  // ------------------------------------------------------------------ tags and properties

  /** Sets one tag (a bare tag has the empty string as value). Tags can change. */
  async tag(key: string, value = ''): Promise<void> {
    this.#info = await this.workspace.client.updateTags(this.id, { set: { [key]: value } })
  }

  async setTags(tags: Record<string, string>): Promise<void> {
    this.#info = await this.workspace.client.updateTags(this.id, { set: tags })
  }

  async removeTags(keys: readonly string[]): Promise<void> {
    this.#info = await this.workspace.client.updateTags(this.id, { remove: [...keys] })
  }

  async getTags(): Promise<Record<string, string>> {
    this.#info = await this.workspace.client.getRun(this.id)
    return this.#info.tags
  }

  /** Adds properties; they never change once set (PROPERTY_IMMUTABLE if one would). */
  async addProperties(properties: Record<string, string>): Promise<void> {
    this.#info = await this.workspace.client.addProperties(this.id, properties)
  }

  async getProperties(): Promise<Record<string, string>> {
    this.#info = await this.workspace.client.getRun(this.id)
    return this.#info.properties
  }

  // ------------------------------------------------------------------ files

  /** Uploads a local file (streamed) or a stream as the artifact `name`. */
  uploadFile(name: string, source: string | Readable, options: { signal?: AbortSignal } = {}): Promise<Artifact> {
    return uploadArtifactFile(this.workspace.client, { runId: this.id, name, source, ...options })
  }

  /** Uploads files to the artifact names at the same positions, several at once. */
  async uploadFiles(options: { names: readonly string[]; paths: readonly string[]; signal?: AbortSignal }): Promise<Artifact[]> {
    if (options.names.length !== options.paths.length) {
      throw new WharfError('INVALID_ARGUMENT', `uploadFiles got ${options.names.length} names for ${options.paths.length} paths`)
    }
    const out: Artifact[] = new Array<Artifact>(options.names.length)
    const indexes = options.names.map((_, i) => i)
    await runPool(indexes, { concurrency: TRANSFER_CONCURRENCY, signal: options.signal }, async (i) => {
      out[i] = await this.uploadFile(options.names[i] as string, options.paths[i] as string, options)
    })
    return out
  }

  /** Uploads every file under `folder` as `<name>/<relative path>`, keeping relative paths. */
  async uploadFolder(name: string, folder: string, options: { signal?: AbortSignal } = {}): Promise<Artifact[]> {
    const files = await listLocalFiles(folder, options)
    const prefix = name.replace(/\/+$/, '')
    return this.uploadFiles({
      names: files.map((f) => (prefix ? `${prefix}/${f.relativePath}` : f.relativePath)),
      paths: files.map((f) => f.localPath),
      ...options,
    })
  }

  /** Paths of every artifact of the run. */
  async getFileNames(options: { prefix?: string } = {}): Promise<string[]> {
    return (await this.workspace.client.listArtifacts(this.id, options).toArray()).map((a) => a.path)
  }

  /**
   * Downloads one artifact to `outputFilePath` (default: its file name in the current folder), verified
   * by sha256. An identical file there is left alone; FILE_EXISTS for one with other content unless `overwrite`.
   */
  async downloadFile(
    name: string,
    options: { outputFilePath?: string; overwrite?: boolean; signal?: AbortSignal } = {},
  ): Promise<string> {
    const artifacts = await this.workspace.client.listArtifacts(this.id, { prefix: name }).toArray()
    const artifact = artifacts.find((a) => a.path === name)
    if (!artifact) {
      throw new WharfError('ARTIFACT_NOT_FOUND', `run "${this.id}" has no artifact "${name}"; run.getFileNames() lists them`)
    }
    const target = path.resolve(options.outputFilePath ?? path.basename(name))
    await this.#download([artifact], { root: path.dirname(target), relativeOf: () => path.basename(target), ...options })
    return target
  }

  /**
   * Downloads the artifacts under `prefix` (all by default) into `outputDirectory`, keeping their
   * paths (or the part after the prefix's folders with `appendPrefix: false`), verified by sha256.
   * Identical files there are left alone; FILE_EXISTS for ones with other content unless `overwrite`.
   * Returns the files in place, sorted.
   */
  async downloadFiles(
    options: {
      prefix?: string
      outputDirectory?: string
      appendPrefix?: boolean
      overwrite?: boolean
      signal?: AbortSignal
    } = {},
  ): Promise<string[]> {
    const artifacts = await this.workspace.client
      .listArtifacts(this.id, options.prefix ? { prefix: options.prefix } : {})
      .toArray()
    const prefix = options.prefix ?? ''
    const stripPrefix = options.appendPrefix === false
    return this.#download(artifacts, {
      root: path.resolve(options.outputDirectory ?? '.'),
      relativeOf: (key) => localRelativeOf(key, { prefix, stripPrefix }),
      ...options,
    })
  }

  async #download(
    artifacts: readonly Artifact[],
    options: { root: string; relativeOf: (key: string) => string; overwrite?: boolean; signal?: AbortSignal },
  ): Promise<string[]> {
    const { root, relativeOf, signal } = options
    const relative = new Map(artifacts.map((a) => [a.path, relativeOf(a.path)]))
    const files = artifacts.map((a) =>
      serverFile({
        key: a.path,
        relative: relative.get(a.path),
        size: a.size,
        sha256: a.sha256,
        fetch: (call) => this.workspace.client.downloadArtifact(this.id, a.path, call),
      }),
    )
    const result = await downloadVerified(
      { files },
      {
        targetDir: root,
        ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
        ...(signal ? { signal } : {}),
      },
    )
    const localPathOf = (key: string): string => localPathUnder(root, relative.get(key) ?? key)
    requireAllPlaced(result, { overwriteHint: 'pass overwrite: true to replace them', localPathOf })
    return placedPaths(result, localPathOf)
  }

  // ------------------------------------------------------------------ models

  /**
   * Registers an artifact of this run (a file or a folder) as the next version of the asset
   * `modelName`. While the run is live, logged metrics are flushed and the outputs folder is uploaded
   * first (this handle's, or in a submitted run the one its runner uploads, `WHARF_OUTPUTS_DIR`), so a
   * model the script just wrote is found (it is uploaded again when the run ends).
   * ARTIFACT_NOT_FOUND when neither `modelPath` nor `outputs/<modelPath>` is there.
   */
  async registerModel(options: RegisterModelOptions): Promise<AssetVersion> {
    const call = options.signal ? { signal: options.signal } : {}
    // A bad alias refuses the whole call before a version is made, rather than leaving one unaliased.
    for (const alias of options.aliases ?? []) assertName(alias, NAME_RULES.assetAlias)
    this.#info = await this.workspace.client.getRun(this.id, call)
    if (!isTerminalStatus(this.#info.status)) {
      await this.flush()
      // The folder this handle uploads at the end, or the one the run's runner will: a model the
      // script just wrote there is found either way (the end uploads it again, unchanged).
      const outputs = this.#outputs !== false ? this.#outputs : this.#runnerOutputs
      if (outputs !== undefined) await this.#uploadOutputs(outputs)
    }
    const artifactPath = await this.#findModelPath(options.modelPath ?? options.modelName)
    const version = await this.workspace.client.promoteAsset(
      {
        name: options.modelName,
        runId: this.id,
        artifactPath,
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.tags !== undefined ? { tags: options.tags } : {}),
      },
      call,
    )
    for (const alias of options.aliases ?? []) {
      await this.workspace.client.setAssetAlias({ name: version.name, alias, version: version.version }, call)
    }
    return version
  }

  /** `modelPath` if the run has an artifact or folder there, else `outputs/<modelPath>` if that exists. */
  async #findModelPath(modelPath: string): Promise<string> {
    const asGiven = toDatastoreKey(modelPath)
    const candidates = asGiven === 'outputs' || asGiven.startsWith('outputs/') ? [asGiven] : [asGiven, `outputs/${asGiven}`]
    for (const candidate of candidates) {
      for await (const artifact of this.workspace.client.listArtifacts(this.id, { prefix: candidate })) {
        if (artifact.path === candidate || artifact.path.startsWith(`${candidate}/`)) return candidate
      }
    }
    throw new WharfError(
      'ARTIFACT_NOT_FOUND',
      `run ${this.id} has no artifact at ${candidates.map((c) => `"${c}"`).join(' or ')}; ` +
        `run.getFileNames() (or wharf history info -r ${this.id}) lists them`,
      { details: { runId: this.id, tried: candidates } },
    )
  }

  // ------------------------------------------------------------------ status and lifecycle

  async getStatus(options: { signal?: AbortSignal } = {}): Promise<RunStatus> {
    return (await this.refresh(options)).status
  }

  /** The run as the server has it now. */
  async getDetails(options: { signal?: AbortSignal } = {}): Promise<RunInfo> {
    return this.refresh(options)
  }

  /** Reads the run again from the server; {@link info} and the getters below then show it. */
  async refresh(options: { signal?: AbortSignal } = {}): Promise<RunInfo> {
    this.#info = await this.workspace.client.getRun(this.id, options)
    return this.#info
  }

  /** The source snapshot of a submitted run (null for a run a script started itself). */
  get snapshotId(): string | null {
    return this.#info.snapshotId
  }

  /** What a submitted run executes (null for a run a script started itself). */
  get definition(): RunDefinition | null {
    return this.#info.definition
  }

  /** When the run entered each status it has been in, as last read. */
  get statusTimes(): RunInfo['statusTimes'] {
    return this.#info.statusTimes
  }

  /**
   * Waits until the run has ended (long-polling its log, never a busy loop) and returns it as it ended.
   * With `showOutput` the script's output (`std_log.txt`) is written to `output` (default stdout) as it
   * comes. With `raiseOnError` (the default) a Failed run rejects with RUN_FAILED carrying the run's
   * error, a Canceled one with RUN_CANCELED. ABORTED when the signal fires (the run goes on).
   */
  async waitForCompletion(
    options: { showOutput?: boolean; raiseOnError?: boolean; output?: NodeJS.WritableStream; signal?: AbortSignal } = {},
  ): Promise<RunInfo> {
    const output = options.output ?? process.stdout
    const show = options.showOutput === true
    for await (const chunk of readRunLog(this.workspace, {
      runId: this.id,
      follow: true,
      skipText: !show,
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      if (show && chunk.content !== '' && !output.write(chunk.content)) await once(output, 'drain')
    }
    const info = await this.refresh(options.signal ? { signal: options.signal } : {})
    if (options.raiseOnError !== false) throwIfUnsuccessful(info)
    return info
  }

  /**
   * The text of one of the run's live logs (`std_log.txt` by default: the script's stdout and stderr),
   * in chunks as they come. With `follow` it goes on until the run has ended, else it stops at the
   * log's current end. ABORTED when the signal fires.
   */
  async *logs(name: string = STD_LOG, options: { follow?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<string> {
    for await (const chunk of readRunLog(this.workspace, {
      runId: this.id,
      name,
      follow: options.follow === true,
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      if (chunk.content !== '') yield chunk.content
    }
  }

  /** The run's live logs (`std_log.txt`, `runner.txt`…) with their sizes. */
  listLogs(options: { signal?: AbortSignal } = {}): Promise<RunLogSummary[]> {
    return listRunLogs(this.workspace, { runId: this.id, ...options })
  }

  /** Starts a child run (Running) in the same experiment; it has its own logger and outputs nothing by default. */
  async childRun(options: { name?: string; runId?: string; outputs?: string | false } = {}): Promise<Run> {
    const info = await this.workspace.client.createRun({
      experiment: this.experiment,
      parentRunId: this.id,
      status: 'Running',
      ...(options.name !== undefined ? { displayName: options.name } : {}),
      ...(options.runId !== undefined ? { runId: options.runId } : {}),
    })
    return new Run(this.workspace, info, { outputs: options.outputs ?? false })
  }

  /**
   * Marks the run Completed after storing every logged point and uploading its outputs folder. Idempotent.
   * In a submitted run (one with a definition, or this process's own run from `Run.getContext()`) it
   * only stores what was logged so far: the runner ends the run when the script exits (Completed on
   * exit code 0), after uploading ./outputs and the logs; logging may go on.
   */
  complete(): Promise<RunInfo> {
    if (this.#runnerOwnsStatus) return this.#storeLogged()
    return this.#finish({ status: 'Completed' })
  }

  /**
   * Marks the run Failed with the error (message and stack), after storing what was logged. Idempotent.
   * In a submitted run it only stores what was logged: the runner ends the run from the script's exit
   * code (throw, or exit non-zero, to end it Failed), after uploading ./outputs and the logs.
   */
  fail(options: { error?: unknown; errorCode?: string } = {}): Promise<RunInfo> {
    if (this.#runnerOwnsStatus) return this.#storeLogged()
    const error = options.error
    const message =
      error instanceof Error
        ? error.message
        : typeof error === 'string'
          ? error
          : error === undefined
            ? 'the run failed'
            : JSON.stringify(error)
    const details = error instanceof Error ? error.stack : undefined
    return this.#finish({
      status: 'Failed',
      error: { message, ...(options.errorCode ? { code: options.errorCode } : {}), ...(details ? { details } : {}) },
    })
  }

  /**
   * Cancels the run. A submitted run is stopped by its runner (SIGTERM, then SIGKILL) and ends Canceled;
   * this asks for it and returns at once (`waitForCompletion` waits for the end). A run a script
   * started itself ends Canceled here, after what this handle logged is stored. Resolves true when a cancel was newly asked
   * for or done, false when the run had already ended or a cancel was already asked for.
   */
  async cancel(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const call = options.signal ? { signal: options.signal } : {}
    // A run a script started itself has no runner to stop it: it ends here, after what was logged.
    if (this.#info.definition === null) {
      const already = this.#finishing !== undefined
      const info = await this.#finish({ status: 'Canceled' })
      return !already && info.status === 'Canceled'
    }
    const current = await this.refresh(call)
    if (isTerminalStatus(current.status) || current.cancelRequestedAt !== null) return false
    this.#info = await this.workspace.client.call('cancelRun', { params: { runId: this.id }, signal: options.signal })
    return true
  }

  /**
   * `await using run = …` completes the run when the block ends, unless it already ended; for a
   * submitted run it only stores what was logged (see {@link Run.complete}).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.complete()
  }

  /** Uploads a text or bytes as the artifact `artifactPath`; for a run logged offline, keeps it in the spool for `wharf sync`. */
  async uploadContent(artifactPath: string, content: string | Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#offline) {
      await spoolRunArtifact({
        spoolDir: this.workspace.spoolDir,
        runId: this.id,
        workspace: this.workspace.name,
        artifactPath,
        content,
      })
      return
    }
    await this.workspace.client.uploadArtifact(this.id, {
      path: artifactPath,
      body: content,
      contentType: typeof content === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      ...(options.signal ? { signal: options.signal } : {}),
    })
  }

  /** A submitted run's complete()/fail(): stores every point logged so far; the runner sets the status. */
  async #storeLogged(): Promise<RunInfo> {
    await this.#logger?.flush({ timeoutMs: END_WAIT_MS })
    this.#info = await this.workspace.client.getRun(this.id)
    return this.#info
  }

  #finish(target: RunEnd): Promise<RunInfo> {
    this.#finishing ??= (async () => {
      let unsent: WharfError | undefined
      let refused: unknown
      try {
        // Through an outage (a server restart) the metrics still unsent are waited for, for a while.
        await this.#logger?.close(this.#offline ? {} : { timeoutMs: END_WAIT_MS, waitForServer: true })
      } catch (error) {
        if (isWharfError(error) && isRetryable(error))
          unsent = error // the points are in the spool file
        else refused = error // a batch the server refused: the run still ends, then the caller hears of it
      }
      // The final status goes last, after every point and file: with points still in the spool, the
      // end is spooled too, so `wharf sync` sets it once they are in.
      if (this.#offline || unsent !== undefined) return this.#spoolEnd(target, unsent)
      try {
        // Like the points above, the end rides out a restart: retried until END_WAIT_MS has passed, not
        // for a number of tries (five take 1.5 s, shorter than a server takes to start again).
        const deadline = Date.now() + END_WAIT_MS
        const retry = {
          policy: resolveRetryPolicy({ attempts: Number.MAX_SAFE_INTEGER, maxDelayMs: 2_000 }),
          serverUrl: this.workspace.url,
          holdProcess: true,
          shouldStop: () => Date.now() >= deadline,
        }
        const outputs = this.#outputs
        if (outputs !== false) await retryRequest(() => this.#uploadOutputs(outputs), retry)
        const current = await retryRequest(() => this.workspace.client.getRun(this.id), retry)
        this.#info = isTerminalStatus(current.status)
          ? current
          : await retryRequest(
              () => this.workspace.client.setRunStatus(this.id, target.status, target.error ? { error: target.error } : {}),
              retry,
            )
      } catch (error) {
        if (!isWharfError(error) || !isRetryable(error)) throw error
        return this.#spoolEnd(target, error)
      }
      if (refused !== undefined) throw refused as Error
      return this.#info
    })()
    return this.#finishing
  }

  /**
   * Keeps the end of the run in the spool: a copy of the outputs folder and the final status. An
   * offline run resolves with its status; a run the server could not be told about rejects with
   * SERVER_UNREACHABLE naming the spool folder.
   */
  async #spoolEnd(target: RunEnd, cause: WharfError | undefined): Promise<RunInfo> {
    const spoolDir = this.workspace.spoolDir
    const at = new Date().toISOString()
    const files =
      this.#outputs === false
        ? 0
        : await spoolRunFolder({
            spoolDir,
            runId: this.id,
            workspace: this.workspace.name,
            name: 'outputs',
            folder: this.#outputs,
          })
    spoolRunEnding({
      spoolDir,
      runId: this.id,
      workspace: this.workspace.name,
      ending: { status: target.status, at, ...(target.error ? { error: target.error } : {}) },
    })
    this.#spooled = { spoolDir, points: this.#logger?.spooledPoints ?? 0, files, status: target.status, offline: this.#offline }
    this.#info = { ...this.#info, status: target.status, endedAt: at, ...(target.error ? { error: target.error } : {}) }
    if (this.#offline) return this.#info
    throw new WharfError(
      'SERVER_UNREACHABLE',
      `could not tell the server that run "${this.id}" ended (${cause?.message ?? 'unreachable'}); its final status (${target.status}), ` +
        `its outputs and unsent metrics are saved in ${spooledRunFolder({ spoolDir, runId: this.id })} and ${spoolDir}: run \`wharf sync\` when the server is back`,
      { ...(cause ? { cause } : {}), details: { runId: this.id, spoolDir } },
    )
  }

  async #uploadOutputs(folder: string): Promise<void> {
    const exists = await stat(folder).then(
      (s) => s.isDirectory(),
      () => false,
    )
    if (exists) await this.uploadFolder('outputs', folder)
  }
}

interface RunEnd {
  status: RunStatus
  error?: { message: string; code?: string; details?: string }
}

/** RUN_FAILED (with the run's error) for a Failed run, RUN_CANCELED for a Canceled one. */
function throwIfUnsuccessful(info: RunInfo): void {
  if (info.status === 'Failed') {
    const reason = info.error?.message ?? 'the run failed without saying why'
    throw new WharfError('RUN_FAILED', reason, {
      details: { runId: info.id, status: info.status, ...(info.error?.code ? { errorCode: info.error.code } : {}) },
    })
  }
  if (info.status === 'Canceled') {
    throw new WharfError('RUN_CANCELED', `run ${info.id} was canceled`, { details: { runId: info.id, status: info.status } })
  }
}

function pointValue(point: MetricPoint): MetricValue {
  if (point.text !== undefined) return point.text
  const value = point.value ?? 'NaN'
  return typeof value === 'number' ? value : Number(value)
}
