import path from 'node:path'
import { WharfError, assertMetricName, DEFAULT_LIMITS } from '@wharf/contract'
import { readEnvironment } from './config/environment.js'
import { flushAllLoggers } from './logging/metric-logger.js'
import { Run } from './runs/run.js'
import { Workspace } from './workspace.js'

let current: Promise<Run> | undefined
/** The context run once known: logs go to it directly, synchronously. */
let resolved: Run | undefined
/** Logs made before the run was known, replayed into it in order the moment it is. */
let early: ((run: Run) => void)[] = []
/** The run could not be started (no config, say): logs reject on wait, and are not kept. */
let startFailed = false
let interactive = false
let hooksInstalled = false

/**
 * How long exit and signal handlers wait for the run to end before giving up (what is unsent is
 * spooled then). Longer than the run's own wait for the server (30 s), so that one decides.
 */
const EXIT_BUDGET_MS = 60_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())])
}

async function startContextRun(): Promise<Run> {
  const env = readEnvironment()
  if (env.runId !== undefined) {
    // Inside a submitted run: the runner owns the lifecycle; we only log to it.
    const workspace = await Workspace.fromConfig()
    return new Run(workspace, await workspace.client.getRun(env.runId), { supervised: true })
  }
  const workspace = await Workspace.fromConfig()
  const script = process.argv[1] ? path.basename(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') : 'interactive'
  const experimentName =
    env.experiment ?? (script.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'interactive')
  // A script run while the server is down still records its run: in the spool, for `wharf sync`.
  const run = await workspace.experiment(experimentName).startLogging({ outputs: './outputs', whenUnreachable: 'offline' })
  interactive = true
  installInteractiveHooks(run)
  return run
}

function installInteractiveHooks(run: Run): void {
  if (hooksInstalled) return
  hooksInstalled = true
  let ending = false
  // A normal end: the event loop ran dry, which cannot happen while the script awaits a `.wait()` or
  // a flush (a pending wait holds the loop open), so the script has really finished. Store
  // everything, upload ./outputs, mark Completed; a log() after this throws at the call.
  process.on('beforeExit', () => {
    if (ending) return
    ending = true
    void endRun(run, () => run.complete())
  })
  // An uncaught exception: print it as Node would, mark the run Failed with it, exit 1.
  process.once('uncaughtException', (error: Error) => {
    ending = true
    process.stderr.write(`${error.stack ?? String(error)}\n`)
    void endRun(run, () => run.fail({ error })).finally(() => process.exit(1))
  })
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    ending = true
    void endRun(run, () => run.cancel()).finally(() => process.exit(code))
    process.stderr.write(`wharf: ${signal}: storing logged metrics, then stopping run ${run.id}\n`)
  }
  process.once('SIGINT', () => onSignal('SIGINT', 130))
  process.once('SIGTERM', () => onSignal('SIGTERM', 143))
}

/** Ends the run within the exit budget and says, once, what could not reach the server. */
async function endRun(run: Run, end: () => Promise<unknown>): Promise<void> {
  try {
    const ended = await withTimeout(
      end().then(() => true),
      EXIT_BUDGET_MS,
    )
    if (ended === undefined) {
      process.stderr.write(
        `wharf: run ${run.id} did not end within ${EXIT_BUDGET_MS / 1000} s; metrics not yet sent stay in the spool for \`npx wharf sync\`\n`,
      )
    }
  } catch (error) {
    if (run.spooled === undefined) process.stderr.write(`wharf: could not complete run ${run.id}: ${(error as Error).message}\n`)
  }
  const spooled = run.spooled
  if (spooled === undefined) return
  const what = spooled.offline
    ? `its creation, ${spooled.points} metric points, ${spooled.files} output files and its final status (${spooled.status})`
    : `${spooled.files} output files, its final status (${spooled.status}) and any metric points not yet sent`
  process.stderr.write(
    `wharf: warning: could not reach the Wharf server at ${run.workspace.url}; run ${run.id} (experiment "${run.experiment}") ` +
      `is saved in ${spooled.spoolDir}: ${what}. Run \`npx wharf sync\` when the server is back.\n`,
  )
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
 * Canceled on SIGINT/SIGTERM. If the server cannot be reached when it starts, the interactive run is
 * logged offline to the spool (one warning at exit; `wharf sync` creates it later). The same run for
 * every call in a process.
 */
export function getContextRun(): Promise<Run> {
  if (current !== undefined) return current
  current = startContextRun().then((run) => {
    if (!interactive) installSubmittedHooks()
    // Logs made while the run was starting go first, in order; later ones go straight to it.
    const pending = early
    early = []
    for (const log of pending) log(run)
    resolved = run
    return run
  })
  current.catch(() => {
    startFailed = true
    early = []
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

function logTo(run: Run, name: string, value: number | string | readonly (number | string)[]): Waitable {
  if (!Array.isArray(value)) return run.logger.log(name, value as number | string)
  assertLoggable(name, value)
  return run.logList(name, value as (number | string)[])
}

let logger: Logger | undefined

/** The logger bound to the current run (see {@link getContextRun}); the same object on every call. */
export function getLogger(): Logger {
  logger ??= {
    log(name, value) {
      // The hot path: once the run is known, straight to its metric logger, which validates (and
      // throws at the call once the run has ended).
      if (resolved !== undefined) return logTo(resolved, name, value)
      assertLoggable(name, value)
      let handle: Waitable | undefined
      let failure: Error | undefined
      const started = getContextRun()
      if (!startFailed) {
        early.push((run) => {
          try {
            handle = logTo(run, name, value)
          } catch (error) {
            failure = error instanceof Error ? error : new WharfError('INTERNAL', String(error))
          }
        })
      }
      return lazily(started, () =>
        started.then(() => {
          if (failure !== undefined) throw failure
          return handle?.wait()
        }),
      )
    },
    upload(artifactPath, content) {
      const uploaded = getContextRun().then((r) => r.uploadContent(artifactPath, content))
      return lazily(uploaded, () => uploaded.then(() => undefined))
    },
  }
  return logger
}
