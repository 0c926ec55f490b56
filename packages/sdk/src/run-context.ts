import path from 'node:path'
import { WharfError, assertMetricName, DEFAULT_LIMITS, type Artifact } from '@wharf/contract'
import { readEnvironment } from './environment.js'
import { flushAllLoggers } from './metric-logger.js'
import { Run } from './run.js'
import { Workspace } from './workspace.js'

let current: Promise<Run> | undefined
let interactive = false
let hooksInstalled = false

/** How long exit and signal handlers wait for metrics and outputs before giving up (spooled then). */
const EXIT_BUDGET_MS = 30_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())])
}

async function startContextRun(): Promise<Run> {
  const env = readEnvironment()
  if (env.runId !== undefined) {
    // Inside a submitted run: the runner owns the lifecycle; we only log to it.
    const workspace = await Workspace.fromConfig()
    return Run.get(workspace, env.runId)
  }
  const workspace = await Workspace.fromConfig()
  const script = process.argv[1] ? path.basename(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') : 'interactive'
  const experimentName = env.experiment ?? (script.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'interactive')
  const run = await workspace.experiment(experimentName).startLogging({ outputs: './outputs' })
  interactive = true
  installInteractiveHooks(run)
  return run
}

function installInteractiveHooks(run: Run): void {
  if (hooksInstalled) return
  hooksInstalled = true
  let ending = false
  // A normal end (the event loop ran dry): store everything, upload ./outputs, mark Completed.
  process.on('beforeExit', () => {
    if (ending) return
    ending = true
    void withTimeout(run.complete(), EXIT_BUDGET_MS).catch((error: unknown) => {
      process.stderr.write(`wharf: could not complete run ${run.id}: ${(error as Error).message}\n`)
    })
  })
  // An uncaught exception: print it as Node would, mark the run Failed with it, exit 1.
  process.once('uncaughtException', (error: Error) => {
    ending = true
    process.stderr.write(`${error.stack ?? String(error)}\n`)
    void withTimeout(run.fail({ error }), EXIT_BUDGET_MS)
      .catch(() => undefined)
      .finally(() => process.exit(1))
  })
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    ending = true
    void withTimeout(run.cancel(), EXIT_BUDGET_MS)
      .catch(() => undefined)
      .finally(() => process.exit(code))
    process.stderr.write(`wharf: ${signal}: storing logged metrics, then stopping run ${run.id}\n`)
  }
  process.once('SIGINT', () => onSignal('SIGINT', 130))
  process.once('SIGTERM', () => onSignal('SIGTERM', 143))
}

let signalHooks = false
function installSubmittedHooks(): void {
  if (signalHooks) return
  signalHooks = true
  // In a submitted run a signal still stores what was logged before the process goes.
  const onSignal = (code: number): void => {
    void withTimeout(flushAllLoggers({ timeoutMs: EXIT_BUDGET_MS }), EXIT_BUDGET_MS)
      .catch(() => undefined)
      .finally(() => process.exit(code))
  }
  process.once('SIGINT', () => onSignal(130))
  process.once('SIGTERM', () => onSignal(143))
}

/**
 * The run this process logs to. Inside a submitted run: that run (from WHARF_RUN_ID,
 * WHARF_TRACKING_URI and WHARF_RUN_TOKEN). Otherwise an interactive run, started on first use in the
 * configured workspace (experiment WHARF_EXPERIMENT, else the script's name), completed when the
 * process ends normally (after uploading ./outputs), marked Failed on an uncaught exception and
 * Canceled on SIGINT/SIGTERM. The same run for every call in a process.
 */
export function getContextRun(): Promise<Run> {
  current ??= startContextRun().then((run) => {
    if (!interactive) installSubmittedHooks()
    return run
  })
  return current
}

/** What `getLogger().log` returns: await it (or `.wait()`) to know the point is stored. */
export interface Waitable extends PromiseLike<void> {
  wait(): Promise<void>
}

/** The Workbench-style logger of the current run (`getLogger().log(name, value)`). */
export interface Logger {
  /**
   * Logs a number, a string, or a list (consecutive points: a chart). Returns at once; a bad name
   * or value throws here; `.wait()` (or `await`) resolves when the point is stored.
   */
  log(name: string, value: number | string | readonly (number | string)[]): Waitable
  /** Stores text (or bytes) as the artifact `artifactPath` of the current run. */
  upload(artifactPath: string, content: string | Uint8Array): Waitable
}

/**
 * A handle that waits only when asked: waiting on every point would flush every point on its own.
 * `work` has already started; an unobserved failure must not crash the process.
 */
function lazily(work: Promise<unknown>, wait: () => Promise<void>): Waitable {
  work.catch(() => undefined)
  let waited: Promise<void> | undefined
  const handle: Waitable = {
    wait: () => (waited ??= wait()),
    then: (onfulfilled, onrejected) => handle.wait().then(onfulfilled, onrejected),
  }
  return handle
}

function assertLoggable(name: string, value: unknown): void {
  assertMetricName(name, DEFAULT_LIMITS)
  const ok = (v: unknown): boolean => typeof v === 'number' || typeof v === 'string'
  if (Array.isArray(value) ? !value.every(ok) || value.length === 0 : !ok(value)) {
    throw new WharfError('INVALID_ARGUMENT', `metric "${name}": log a number, a string, or a non-empty list of them`)
  }
}

let logger: Logger | undefined

/** The logger bound to the current run (see {@link getContextRun}); the same object on every call. */
export function getLogger(): Logger {
  logger ??= {
    log(name, value) {
      assertLoggable(name, value)
      // Boxed: a PendingLog is a thenable, and returning it bare from then() would wait on it.
      const logged = getContextRun().then((r) => ({
        handle: Array.isArray(value) ? r.logList(name, value as (number | string)[]) : r.log(name, value as number | string),
      }))
      return lazily(logged, () => logged.then(({ handle }) => handle.wait()))
    },
    upload(artifactPath, content) {
      const uploaded = getContextRun().then(
        (r): Promise<Artifact> =>
          r.workspace.client.uploadArtifact(r.id, {
            path: artifactPath,
            body: content,
            contentType: typeof content === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream',
          }),
      )
      return lazily(uploaded, () => uploaded.then(() => undefined))
    },
  }
  return logger
}
