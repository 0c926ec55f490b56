import path from 'node:path'
import { WharfError, assertMetricName, checkMetricPoint, DEFAULT_LIMITS } from '@wharf/contract'
import { readEnvironment } from './config/environment.js'
import { assertStep, flushAllLoggers } from './logging/metric-logger.js'
import { Run } from './runs/run.js'
import { Workspace } from './workspace.js'

let current: Promise<Run> | undefined
/** The context run once known: logs go to it directly, synchronously. */
let resolved: Run | undefined
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
    return new Run(workspace, await workspace.client.getRun(env.runId), {
      supervised: true,
      ...(env.outputsDir !== undefined ? { runnerOutputs: env.outputsDir } : {}),
    })
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
    early?.replayInto(run)
    early = undefined
    resolved = run
    return run
  })
  current.catch(() => {
    startFailed = true
    early = undefined
  })
  return current
}

/** What `getLogger().log` returns: await it (or `.wait()`) to know the point is stored. */
export interface Waitable extends PromiseLike<void> {
  wait(): Promise<void>
}

/** Options of `getLogger().log`. */
export interface LoggerLogOptions {
  /**
   * The step of the point (of the first value, for a list; the others follow one apart): a whole
   * number from 0, else INVALID_ARGUMENT at the call. Default: the metric's next step on the server.
   */
  step?: number
}

/** The Workbench-style logger of the current run (`getLogger().log(name, value)`). */
export interface Logger {
  /**
   * Logs a number, a string, or a list (consecutive points: a chart). Returns at once; a bad name,
   * value or step throws here; `.wait()` (or `await`) resolves when the point is stored.
   */
  log(name: string, value: number | string | readonly (number | string)[], options?: LoggerLogOptions): Waitable
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

type LoggedValue = number | string | readonly (number | string)[]

/** Names already checked by {@link assertLoggable}, so a training loop pays for each name once. */
const knownNames = new Set<string>()
const KNOWN_NAMES_CACHE = 10_000

/**
 * What can be checked before the run (and its server's limits) is known, against the default limits:
 * the name, the value's type and a text's length. The server's own limits are checked at the replay.
 */
function assertLoggable(name: string, value: unknown): void {
  if (!knownNames.has(name)) {
    assertMetricName(name, DEFAULT_LIMITS)
    if (knownNames.size < KNOWN_NAMES_CACHE) knownNames.add(name)
  }
  if (typeof value === 'number') return
  if (typeof value === 'string') {
    checkMetricPoint({ name, text: value }, { limits: DEFAULT_LIMITS, place: { call: name } })
    return
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new WharfError('INVALID_ARGUMENT', `metric "${name}": log a number, a string, or a non-empty list of them`)
  }
  for (const one of value as unknown[]) {
    if (typeof one !== 'number' && typeof one !== 'string') {
      throw new WharfError('INVALID_ARGUMENT', `metric "${name}": log a number, a string, or a non-empty list of them`)
    }
  }
}

/** Points logged before the run was known are replayed with the time of their call; one object serves them all. */
const replayOptions: { step?: number; time?: number } = {}

/**
 * Points logged before the context run was known, in order, as columns (no closure or promise per
 * point), replayed into the run's logger the moment it is known. What each point's log gave (its
 * batch's handle, or why it was refused) is kept for its {@link EarlyLog}; the columns are dropped.
 */
class EarlyPoints {
  readonly started: Promise<Run>
  /** Four slots per point (name, value, step, time): one array to grow, not four. */
  #points: (LoggedValue | undefined)[] = []
  /** After the replay: per point, the handle of the batch it went into, or the error its log threw. */
  #outcomes: (Waitable | Error)[] = []

  constructor(started: Promise<Run>) {
    this.started = started
  }

  /** Keeps one checked point and returns its index. */
  // eslint-disable-next-line max-params -- called once per logged point: no options object to allocate
  add(name: string, value: LoggedValue, step: number | undefined, time: number): number {
    return (this.#points.push(name, value, step, time) >> 2) - 1
  }

  /** Logs every kept point into `run`, in order; a point the run's logger refuses is reported once, not thrown. */
  replayInto(run: Run): void {
    const logger = run.logger
    const points = this.#points
    let refused = 0
    let first: Error | undefined
    for (let i = 0; i < points.length; i += 4) {
      const name = points[i] as string
      const value = points[i + 1] as LoggedValue
      replayOptions.step = points[i + 2] as number | undefined
      replayOptions.time = points[i + 3] as number
      try {
        this.#outcomes.push(
          typeof value === 'object' ? logger.logList(name, value, replayOptions) : logger.log(name, value, replayOptions),
        )
      } catch (error) {
        const failure = error instanceof Error ? error : new WharfError('INTERNAL', String(error))
        this.#outcomes.push(failure)
        refused++
        first ??= failure
      }
    }
    this.#points = []
    if (first !== undefined) {
      // Nobody may wait on these points; say once that they are not stored rather than drop them silently.
      process.emitWarning(
        `${refused} metric point(s) logged before run ${run.id} started were refused by its server's limits and not stored; the first: ${first.message}`,
        { type: 'WharfWarning' },
      )
    }
  }

  /** The wait on point `index`: rejects with the run's start error, or the error its log threw at the replay. */
  waitFor(index: number): Promise<void> {
    return this.started.then(() => {
      const outcome = this.#outcomes[index]
      if (outcome instanceof Error) throw outcome
      return outcome?.wait()
    })
  }
}

/**
 * The handle of a point logged before the run was known: two fields, no promise until someone waits
 * (so an unobserved failure cannot crash the process, and a loop of logs costs no more than pushes).
 */
class EarlyLog implements Waitable {
  readonly #points: EarlyPoints
  readonly #index: number
  #waited: Promise<void> | undefined

  constructor(points: EarlyPoints, index: number) {
    this.#points = points
    this.#index = index
  }

  /** Resolves once the point (and every one logged before it) is stored; rejects with why it cannot be. */
  wait(): Promise<void> {
    this.#waited ??= this.#points.waitFor(this.#index)
    return this.#waited
  }

  then<TResult1 = void, TResult2 = never>(
    onfulfilled?: ((value: void) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.wait().then(onfulfilled, onrejected)
  }
}

/** Logs made before the run was known (see {@link EarlyPoints}); undefined once it is, or once it failed to start. */
let early: EarlyPoints | undefined

/** A point logged before the run is known: checked now, kept with the time of the call, replayed once the run is known. */
function logEarly(name: string, value: LoggedValue, options: LoggerLogOptions | undefined): Waitable {
  assertLoggable(name, value)
  const step = options?.step
  if (step !== undefined) {
    assertStep(name, step)
    if (Array.isArray(value)) assertStep(name, step + value.length - 1)
  }
  if (early === undefined) {
    const started = getContextRun()
    // Nothing is kept for a run that could not start: the handle's wait rejects with why.
    if (startFailed) return new EarlyLog(new EarlyPoints(started), -1)
    early = new EarlyPoints(started)
  }
  return new EarlyLog(early, early.add(name, value, step, Date.now()))
}

let logger: Logger | undefined

/** The logger bound to the current run (see {@link getContextRun}); the same object on every call. */
export function getLogger(): Logger {
  logger ??= {
    log(name, value, options) {
      // The hot path: once the run is known, straight to its metric logger, which validates (and
      // throws at the call once the run has ended) and returns its batch's handle: nothing is made per call.
      if (resolved === undefined) return logEarly(name, value, options)
      if (typeof value !== 'object') return resolved.logger.log(name, value, options)
      assertLoggable(name, value)
      return resolved.logger.logList(name, value, options)
    },
    upload(artifactPath, content) {
      const uploaded = getContextRun().then((r) => r.uploadContent(artifactPath, content))
      return lazily(uploaded, () => uploaded.then(() => undefined))
    },
  }
  return logger
}
