import { lstat, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import {
  ROUTES,
  WharfError,
  isTerminalStatus,
  isWharfError,
  type Limits,
  type Run as RunInfo,
  type RunError,
  type RunStatus,
} from '@wharf/contract'
import { Run, isRetryable, resolveRetryPolicy, retryRequest as retryWithin } from '@wharf/sdk'
import type { WorkspaceConnection } from '../connection.js'
import { mountReference, type Mount, type MountTools } from '../data-references/mount.js'
import { inputsManifestOf, placeReference, type PlacedReference } from '../data-references/paths.js'
import { downloadReference, uploadReference } from '../data-references/transfer.js'
import { materializeSnapshot } from '../snapshot/materialize.js'
import { serverLimits } from '../snapshot/upload.js'
import { buildArgv } from './argv.js'
import { buildScriptEnvironment } from './environment.js'
import { startHeartbeat } from './heartbeat.js'
import { LiveLog } from './live-log.js'
import { maskSecrets } from './mask.js'
import { tsxLoaderUrl } from './node-paths.js'
import { startScript, type ScriptExit } from './script-process.js'
import { StreamLines } from './stream-lines.js'

/** Options for {@link superviseRun}. */
export interface SuperviseOptions {
  /** The run's workspace, its client holding the run token. */
  workspace: WorkspaceConnection
  runId: string
  /** The run token the script is given (and that is masked in every log). */
  token: string
  /** Wharf's folder on this machine; the run works in `<wharfHome>/runs/<runId>/`. */
  wharfHome: string
  /** The environment the script starts from (PATH, HOME…), before the run's own variables. */
  env: Readonly<Record<string, string | undefined>>
  /** Keep the working folder after the run (it is removed by default). */
  keepWorkingFolder?: boolean
  /**
   * The source folder on this machine (the local target): unchanged files are copied from it rather
   * than downloaded, and its node_modules is linked into the working folder when the snapshot has none.
   */
  localSource?: string
  /** Time between SIGTERM and SIGKILL when the script is stopped. Default 10 s. */
  graceMs?: number
  /** Time between heartbeats. Default 1 s. */
  heartbeatMs?: number
  mountTools?: MountTools
  /** Hears the runner's own messages (also sent to the live log `runner.txt`). */
  onMessage?: (line: string) => void
  /** Aborting it cancels the run (the runner got SIGTERM or SIGINT). */
  signal?: AbortSignal
}

/** How long a request the run needs (its status, its logs) waits for a server that went away. */
const SERVER_WAIT_MS = 120_000

/** How long the stderr tail kept for a failed run's error is, and how many of its lines are told. */
const STDERR_TAIL_BYTES = 64 * 1024
const STDERR_TAIL_LINES = 20

interface Outcome {
  status: Extract<RunStatus, 'Completed' | 'Failed' | 'Canceled'>
  error?: RunError
}

/**
 * Supervises one submitted run from its id to its end, on this machine: heartbeat, Preparing (the
 * snapshot into a fresh working folder, downloads and mounts), Running (the script in its own process
 * group, stdout and stderr streamed to the live log `std_log.txt`), Finalizing (outputs, upload
 * references and logs as artifacts), then Completed, Failed or Canceled. A cancel (heard in the
 * heartbeat, or `signal`) stops the script with SIGTERM, then SIGKILL. Resolves with the ended run;
 * rejects only when the run cannot be read at all.
 */
export async function superviseRun(options: SuperviseOptions): Promise<RunInfo> {
  const { workspace, runId, token } = options
  const client = workspace.client
  // A request the run cannot go on without is retried through a server restart, for a while (not a count).
  const policy = resolveRetryPolicy({ attempts: Number.MAX_SAFE_INTEGER, maxDelayMs: 2_000 })
  const retryRequest = <T>(request: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + SERVER_WAIT_MS
    return retryWithin(request, { policy, serverUrl: workspace.url, holdProcess: true, shouldStop: () => Date.now() > deadline })
  }
  const runFolder = path.join(options.wharfHome, 'runs', runId)
  const workingFolder = path.join(runFolder, 'wd')
  const logFolder = path.join(runFolder, 'logs')
  await mkdir(logFolder, { recursive: true })
  const run = await retryRequest(() => client.getRun(runId))
  if (isTerminalStatus(run.status)) return run
  const limits = await serverLimits(client)

  const makeLog = (name: string): LiveLog =>
    new LiveLog({
      localFile: path.join(logFolder, name),
      secrets: [token],
      maxAppendBytes: limits.logAppendBytes,
      isTransient: (error) => !isWharfError(error) || isRetryable(error),
      append: async ({ offset, bytes }) => {
        const response = await client.send(ROUTES.appendRunLog, {
          params: { runId, log: name },
          query: { offset },
          rawBody: bytes,
          headers: { 'content-type': 'application/octet-stream' },
        })
        await response.body?.cancel()
      },
    })
  const runnerLog = makeLog('runner.txt')
  const stdLog = makeLog('std_log.txt')
  const say = (line: string): void => {
    runnerLog.write(`${new Date().toISOString()} ${line}\n`)
    options.onMessage?.(maskSecrets(line, [token]))
  }

  // A cancel or the run's time running out stops everything in flight: transfers, then the script.
  let stopReason: 'canceled' | 'timeout' | undefined
  const stop = new AbortController()
  const requestStop = (reason: 'canceled' | 'timeout'): void => {
    if (stopReason !== undefined) return
    stopReason = reason
    say(reason === 'canceled' ? 'cancel requested: stopping the run' : `the run reached its maximum duration: stopping it`)
    stop.abort(new WharfError('ABORTED', `the run was ${reason === 'canceled' ? 'canceled' : 'stopped at its maximum duration'}`))
  }
  const onSignal = (): void => requestStop('canceled')
  options.signal?.addEventListener('abort', onSignal)
  if (options.signal?.aborted) onSignal()
  const heartbeat = startHeartbeat({
    client,
    runId,
    ...(options.heartbeatMs !== undefined ? { intervalMs: options.heartbeatMs } : {}),
    onCancel: () => requestStop('canceled'),
  })

  let deadline: NodeJS.Timeout | undefined
  try {
    const definition = run.definition
    const maxSeconds = definition?.maxRunDurationSeconds ?? 2_592_000
    deadline = setTimeout(() => requestStop('timeout'), Math.min(maxSeconds * 1000, 2 ** 31 - 1))
    const setStatus = async (status: RunStatus, error?: RunError): Promise<RunInfo> =>
      retryRequest(() => client.setRunStatus(runId, status, error ? { error } : {}))

    const stage: Stage = {
      workspace,
      run,
      token,
      runFolder,
      workingFolder,
      say,
      signal: stop.signal,
      mounts: [],
      references: [],
      scriptStarted: false,
      options,
      retry: retryRequest,
    }
    const { mounts } = stage
    let outcome: Outcome
    try {
      if (definition === null) {
        throw new WharfError(
          'INVALID_ARGUMENT',
          `run ${runId} has no definition: it was not submitted, so there is nothing to run`,
        )
      }
      await setStatus('Preparing')
      const inputsManifest = await prepare(stage)
      stop.signal.throwIfAborted()
      await setStatus('Running')
      const { exit, stderrTail } = await execute(stage, {
        definition,
        inputsManifest,
        stdLog,
        graceMs: options.graceMs ?? 10_000,
      })
      outcome = outcomeOf({ exit, stopReason, stderrTail, maxSeconds })
    } catch (error) {
      outcome =
        stopReason !== undefined ? stoppedOutcome(stopReason, maxSeconds) : { status: 'Failed', error: runErrorOf(error, limits) }
      if (outcome.status === 'Failed') say(`failed: ${outcome.error?.message ?? ''}`)
    }
    clearTimeout(deadline)

    for (const mount of mounts) {
      await mount.unmount().catch((error: unknown) => say(`could not unmount ${mount.reference.base}: ${messageOf(error)}`))
    }
    await setStatus('Finalizing').catch((error: unknown) => say(`could not set Finalizing: ${messageOf(error)}`))
    const finalizeFailure = await finalize(stage)
    if (finalizeFailure !== undefined && outcome.status === 'Completed') {
      outcome = { status: 'Failed', error: runErrorOf(finalizeFailure, limits) }
    }
    say(`final status: ${outcome.status}`)
    await stdLog.close()
    await runnerLog.close()
    const runHandle = new Run(workspace, run)
    for (const name of ['std_log.txt', 'runner.txt']) {
      await retryRequest(() => runHandle.uploadFile(`logs/${name}`, path.join(logFolder, name))).catch((error: unknown) =>
        options.onMessage?.(`could not upload logs/${name}: ${messageOf(error)}`),
      )
    }
    let ended: RunInfo
    try {
      ended = await setStatus(outcome.status, outcome.error)
    } catch (error) {
      // The server ended the run itself meanwhile (its watchdog, or a cancel of a run it no longer saw live).
      options.onMessage?.(`could not set the final status ${outcome.status}: ${messageOf(error)}`)
      ended = await retryRequest(() => client.getRun(runId))
    }
    return ended
  } finally {
    clearTimeout(deadline)
    // Always: the heartbeat stops only now, so the server sees the runner until the final status is in.
    await heartbeat.stop()
    options.signal?.removeEventListener('abort', onSignal)
    if (options.keepWorkingFolder !== true) {
      await rm(workingFolder, { recursive: true, force: true }).catch(() => undefined)
      await rm(path.join(runFolder, 'data'), { recursive: true, force: true }).catch(() => undefined)
    }
  }
}

/** What the stages of a supervised run share. */
interface Stage {
  workspace: WorkspaceConnection
  run: RunInfo
  token: string
  runFolder: string
  workingFolder: string
  say: (line: string) => void
  /** Aborted on cancel or when the run's time is up. */
  signal: AbortSignal
  mounts: Mount[]
  references: PlacedReference[]
  scriptStarted: boolean
  options: SuperviseOptions
  /** Runs a request again through a server restart, for a while. */
  retry: <T>(request: () => Promise<T>) => Promise<T>
}

/** Preparing: the snapshot into a fresh working folder, ./outputs and ./logs, every data reference; returns the inputs manifest's path. */
async function prepare(stage: Stage): Promise<string> {
  const { run, runFolder, workingFolder, say, signal, options } = stage
  if (run.snapshotId === null) throw new WharfError('INVALID_ARGUMENT', `run ${run.id} has no source snapshot`)
  say(`preparing: source snapshot ${run.snapshotId} into ${workingFolder}`)
  await rm(workingFolder, { recursive: true, force: true })
  const { localSource } = options
  const snapshot = await materializeSnapshot(stage.workspace.client, run.snapshotId, {
    folder: workingFolder,
    signal,
    ...(localSource !== undefined ? { localSource } : {}),
  })
  say(
    `snapshot ready: ${snapshot.files.length} files` +
      (snapshot.copiedLocally > 0 ? ` (${snapshot.copiedLocally} unchanged in ${localSource} copied from there)` : ''),
  )
  stage.references = (run.definition?.dataReferences ?? []).map((config) =>
    placeReference(config, { runId: run.id, runFolder, workingFolder }),
  )
  refuseReferencesInNodeModules(stage.references, workingFolder)
  if (localSource !== undefined && isNodeEntryScript(run.definition?.script ?? null)) {
    await linkNodeModules({ localSource, workingFolder, say })
  }
  await mkdir(path.join(workingFolder, 'outputs'), { recursive: true })
  await mkdir(path.join(workingFolder, 'logs'), { recursive: true })
  for (const reference of stage.references) {
    signal.throwIfAborted()
    await prepareReference(reference, {
      workspace: stage.workspace,
      mounts: stage.mounts,
      say,
      signal,
      tools: options.mountTools ?? {},
      env: options.env,
    })
  }
  const inputsManifest = path.join(runFolder, 'inputs.json')
  await writeFile(inputsManifest, `${JSON.stringify(inputsManifestOf(stage.references), null, 2)}\n`)
  return inputsManifest
}

/** Running: the script in its own process group, its output into std_log.txt, stopped when the stage's signal aborts. */
async function execute(
  stage: Stage,
  options: { definition: NonNullable<RunInfo['definition']>; inputsManifest: string; stdLog: LiveLog; graceMs: number },
): Promise<{ exit: ScriptExit; stderrTail: string }> {
  const { run, token, workingFolder, say, signal, workspace } = stage
  const { definition, stdLog } = options
  const referencePaths = Object.fromEntries(stage.references.map((reference) => [reference.config.name, reference.path]))
  const argv = buildArgv({ definition, referencePaths, workingFolder, nodePath: process.execPath, tsxLoader: tsxLoaderUrl() })
  say(`running: ${argv.map(quoteArg).join(' ')}`)
  const stderrTail = new TailBuffer(STDERR_TAIL_BYTES)
  // Each stream's lines go into std_log.txt whole, in the order they were completed.
  const streams = {
    stdout: new StreamLines({ emit: (bytes) => stdLog.write(bytes) }),
    stderr: new StreamLines({ emit: (bytes) => stdLog.write(bytes) }),
  }
  const script = await startScript({
    argv,
    cwd: workingFolder,
    env: buildScriptEnvironment({
      parent: stage.options.env,
      definition,
      runId: run.id,
      trackingUri: workspace.url,
      workspace: workspace.name,
      experiment: run.experiment,
      token,
      referencePaths,
      inputsManifest: options.inputsManifest,
      outputsDir: path.join(workingFolder, 'outputs'),
    }),
    onOutput: (chunk, stream) => {
      streams[stream].push(chunk)
      if (stream === 'stderr') stderrTail.push(chunk)
    },
  }).catch((error: unknown) => {
    throw withInterpreterHint(error, definition)
  })
  stage.scriptStarted = true
  const stopScript = (): void => void script.stop({ graceMs: options.graceMs })
  signal.addEventListener('abort', stopScript)
  if (signal.aborted) stopScript()
  const exit = await script.exited
  signal.removeEventListener('abort', stopScript)
  streams.stdout.end()
  streams.stderr.end()
  say(`the script ended: ${describeExit(exit)}`)
  return { exit, stderrTail: stderrTail.lastLines(STDERR_TAIL_LINES, token) }
}

async function prepareReference(
  reference: PlacedReference,
  options: {
    workspace: WorkspaceConnection
    mounts: Mount[]
    say: (line: string) => void
    signal: AbortSignal
    tools: MountTools
    env: Readonly<Record<string, string | undefined>>
  },
): Promise<void> {
  const { config } = reference
  const where = `${config.datastore}:${reference.datastorePath || '/'}`
  switch (config.mode) {
    case 'download': {
      options.say(`downloading ${config.name} (${where}) to ${reference.base}`)
      const { files, bytes } = await downloadReference(options.workspace, reference, { signal: options.signal })
      options.say(`downloaded ${config.name}: ${files} files, ${bytes} bytes`)
      return
    }
    case 'mount': {
      options.say(`mounting ${config.name} (${where})`)
      const mount = await mountReference(options.workspace, reference, {
        tools: options.tools,
        signal: options.signal,
        env: options.env,
      })
      options.mounts.push(mount)
      if (mount.liveFolder === undefined) options.say(`mounted ${config.name} at ${reference.path}`)
      else {
        const at = reference.path === mount.liveFolder ? '' : ` (linked at ${reference.path})`
        options.say(
          `mounted ${config.name}: it is the datastore folder ${mount.liveFolder} itself${at}, not a read-only copy; what the script writes there goes to the datastore`,
        )
      }
      return
    }
    case 'upload':
      // A folder the runner picked is made for the script to write in; a given path is the script's to create.
      if (config.pathOnCompute === null) await mkdir(reference.base, { recursive: true })
      else await mkdir(path.dirname(reference.base), { recursive: true })
      return
  }
}

/** Uploads outputs, upload references and ./logs; returns the first failure (the run's outcome may change), never throws. */
async function finalize(stage: Stage): Promise<unknown> {
  const { workspace, run, workingFolder, say } = stage
  const runHandle = new Run(workspace, run)
  let failure: unknown
  const attempt = async (what: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work()
    } catch (error) {
      failure ??= error
      say(`${what} failed: ${messageOf(error)}`)
    }
  }
  for (const folder of ['outputs', 'logs']) {
    const local = path.join(workingFolder, folder)
    if (!(await isFolder(local))) continue
    await attempt(`uploading ./${folder}`, async () => {
      const uploaded = await stage.retry(() => runHandle.uploadFolder(folder, local))
      say(`uploaded ./${folder}: ${uploaded.length} files`)
    })
  }
  if (stage.scriptStarted) {
    for (const reference of stage.references.filter((r) => r.config.mode === 'upload')) {
      await attempt(`uploading ${reference.config.name}`, async () => {
        const result = await stage.retry(() => uploadReference(workspace, reference))
        if (result === undefined) {
          say(`nothing to upload for ${reference.config.name}: the script left nothing at ${reference.path}`)
          return
        }
        say(
          `uploaded ${reference.config.name} to ${reference.config.datastore}:${reference.datastorePath || '/'}: ${result.files} files`,
        )
        if (result.skipped.length > 0) {
          say(
            `${result.skipped.length} file(s) of ${reference.config.name} exist with other content and were left alone (overwrite is off): ${result.skipped.slice(0, 5).join(', ')}`,
          )
        }
      })
    }
  }
  return failure
}

async function isFolder(folder: string): Promise<boolean> {
  return stat(folder).then(
    (info) => info.isDirectory(),
    () => false,
  )
}

/** A `.py` entry script whose interpreter was not found: say how to name another. */
function withInterpreterHint(error: unknown, definition: NonNullable<RunInfo['definition']>): unknown {
  if (!isWharfError(error, 'INVALID_ARGUMENT') || !definition.script?.toLowerCase().endsWith('.py')) return error
  return new WharfError(
    'INVALID_ARGUMENT',
    `${error.message}; name the Python interpreter in the run's definition (python, e.g. /path/to/venv/bin/python)`,
    { cause: error },
  )
}

function outcomeOf(options: {
  exit: ScriptExit
  stopReason: 'canceled' | 'timeout' | undefined
  stderrTail: string
  maxSeconds: number
}): Outcome {
  const { exit, stopReason, stderrTail } = options
  if (stopReason !== undefined) return stoppedOutcome(stopReason, options.maxSeconds)
  if (exit.code === 0) return { status: 'Completed' }
  const how = exit.code !== null ? `exited with code ${exit.code}` : `was ended by signal ${exit.signal ?? 'unknown'}`
  return {
    status: 'Failed',
    error: {
      code: 'SCRIPT_FAILED',
      message: `the script ${how}${stderrTail ? `: ${stderrTail}` : ' (it wrote nothing to stderr)'}`,
    },
  }
}

function stoppedOutcome(reason: 'canceled' | 'timeout', maxSeconds: number): Outcome {
  if (reason === 'canceled') return { status: 'Canceled' }
  return {
    status: 'Failed',
    error: {
      code: 'RUN_TIMEOUT',
      message: `the run went past its maximum duration of ${maxSeconds} s and was stopped; raise maxRunDurationSeconds if it needs longer`,
    },
  }
}

function runErrorOf(error: unknown, limits: Pick<Limits, 'errorMessageLength'>): RunError {
  const code = isWharfError(error) ? error.code : 'INTERNAL'
  const message = messageOf(error).slice(0, Math.max(200, limits.errorMessageLength - 100))
  return { code, message }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function describeExit(exit: ScriptExit): string {
  return exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal ?? 'unknown'}`
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`
}

/** The last bytes of a stream, for the error of a failed run. */
class TailBuffer {
  readonly #max: number
  #chunks: Buffer[] = []
  #bytes = 0

  constructor(max: number) {
    this.#max = max
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#bytes += chunk.length
    while (this.#bytes - (this.#chunks[0]?.length ?? 0) >= this.#max) this.#bytes -= this.#chunks.shift()?.length ?? 0
  }

  /** The last `count` lines as text, the secret masked. */
  lastLines(count: number, secret: string): string {
    const text = maskSecrets(Buffer.concat(this.#chunks), [secret]).toString('utf8')
    return text.trimEnd().split('\n').slice(-count).join('\n').slice(-4000)
  }
}

/** Entry scripts Node runs (a TypeScript one through tsx): only they get the project's node_modules. */
const NODE_SCRIPT_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'])

function isNodeEntryScript(script: string | null): boolean {
  return script !== null && NODE_SCRIPT_EXTENSIONS.has(path.extname(script).toLowerCase())
}

/**
 * INVALID_ARGUMENT for a data reference placed in the working folder's node_modules: for a Node
 * script that is a link to the project's own node_modules, which a download, a mount or the script's
 * writes would change.
 */
function refuseReferencesInNodeModules(references: readonly PlacedReference[], workingFolder: string): void {
  for (const reference of references) {
    const relative = path.relative(workingFolder, reference.base)
    if (relative.split(path.sep)[0] !== 'node_modules') continue
    throw new WharfError(
      'INVALID_ARGUMENT',
      `data reference "${reference.config.name}": its pathOnCompute "${reference.config.pathOnCompute ?? ''}" lies under node_modules ` +
        `in the working folder, where a Node script gets the project's own node_modules; pick a path outside it`,
      { details: { reference: reference.config.name, pathOnCompute: reference.config.pathOnCompute } },
    )
  }
}

/**
 * A Node or TypeScript script imports packages (the SDK among them) from its project's node_modules,
 * which ignore files keep out of snapshots: on the machine that holds the project, the working folder
 * gets a link to it, so `import '@wharf/sdk'` resolves as it did in the project.
 */
async function linkNodeModules(options: {
  localSource: string
  workingFolder: string
  say: (line: string) => void
}): Promise<void> {
  const source = path.join(options.localSource, 'node_modules')
  const link = path.join(options.workingFolder, 'node_modules')
  const [sourceStat, existing] = await Promise.all([stat(source).catch(() => undefined), lstat(link).catch(() => undefined)])
  if (!sourceStat?.isDirectory() || existing !== undefined) return
  await symlink(source, link, 'dir')
  options.say(`linked node_modules to ${source}`)
}
