import { randomUUID } from 'node:crypto'
import type { WharfClient } from '@wharf/client'
import {
  DEFAULT_LIMITS,
  WharfError,
  assertMetricName,
  checkMetricPoint,
  printable,
  type MetricPointFields,
} from '@wharf/contract'
import { hasPointsInMemory, liveLoggers, releaseAtExit, spoolPointsInMemory, warnOf, type ExitAwareLogger } from './exit-hooks.js'
import { toInternal } from './internal-error.js'
import { DeliveryLedger, PendingLog, waitForSequence, type SequenceWaits } from './ledger.js'
import { Outage } from './outage.js'
import { resolveRetryPolicy, type RetryOptions } from '../retry.js'
import { SendLoop } from './send-loop.js'
import { isValidWriterId, spoolFilePath } from './spool-file.js'

export { PendingLog } from './ledger.js'
export { flushAllLoggers, type FlushAllResult } from './exit-hooks.js'

/** How a {@link MetricLogger} reaches its run, batches, retries and spools. */
export interface MetricLoggerOptions {
  client: WharfClient
  runId: string
  /** Folder for spool files: batches the server could not take yet, replayed later (`wharf sync`). */
  spoolDir: string
  /**
   * Identifies this logger's batches to the server, which stores each (writerId, sequence) once.
   * Letters, digits, `_` and `-`. Default: a random UUID. Never give two loggers the same one.
   */
  writerId?: string
  /** Points per batch (at most the server's `pointsPerBatch`). Default 1000. */
  maxBatchPoints?: number
  /** How long a point waits for more before its batch goes out. Default 200 ms. */
  flushIntervalMs?: number
  /** Points kept in memory while the server is slow or down; past this, batches go to the spool. Default 100,000. */
  maxBufferedPoints?: number
  /** Retries of a batch while the server is unreachable or answers 5xx. Default 5 tries, 100 ms to 5 s apart. */
  retry?: RetryOptions
  /** Told about every batch that could not be stored, and when batches start going to the spool. Default: a process warning. */
  onError?: (error: WharfError) => void
  /**
   * The run exists only in the spool (it was started while the server was unreachable): every batch
   * goes to the spool file and nothing is sent; `wharf sync` creates the run and sends them. A wait
   * resolves once its points are fsynced in the spool file.
   */
  offline?: boolean
  /**
   * How long a wait (`.wait()`, `flush()`) rides out an outage. While the server is unreachable the
   * waited points sit fsynced in the spool file and the logger keeps trying; a wait still pending this
   * long after the batches were first spooled rejects with SERVER_UNREACHABLE naming the spool file (the
   * points stay there for `wharf sync`). 0 rejects as soon as they are spooled. Default 120,000 ms.
   */
  waitTimeoutMs?: number
}

/** Where a logged point sits: a step (default: the metric's next) and a time (default: now). */
export interface MetricLogOptions {
  /** A whole number from 0; default the metric's next step on the server. */
  step?: number
  /** Epoch milliseconds; default the time of the call. */
  time?: number
}

/** How long to wait for a flush. */
export interface FlushOptions {
  /** Reject with SERVER_UNREACHABLE if the flush has not finished by then; sending goes on. */
  timeoutMs?: number
}

/** How {@link MetricLogger.close} ends. */
export interface CloseOptions extends FlushOptions {
  /**
   * Keep sending through an outage (a server restart) until `timeoutMs`, instead of giving up when
   * the retry policy runs out; what is still unsent then is kept in the spool file.
   */
  waitForServer?: boolean
}

const DEFAULT_MAX_BATCH_POINTS = 1000
const DEFAULT_FLUSH_INTERVAL_MS = 200
const DEFAULT_MAX_BUFFERED_POINTS = 100_000
const KNOWN_NAMES_CACHE = 10_000
/** Long enough for a server restart or a short network cut; see {@link MetricLoggerOptions.waitTimeoutMs}. */
const DEFAULT_WAIT_TIMEOUT_MS = 120_000

function invalid(message: string, field: string): WharfError {
  return new WharfError('INVALID_ARGUMENT', message, { details: { field } })
}

function positiveInteger(options: { name: string; value: number | undefined; fallback: number; max?: number }): number {
  const value = options.value ?? options.fallback
  const max = options.max ?? Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw invalid(`${options.name} must be a whole number from 1 to ${max}, got ${value}`, options.name)
  }
  return value
}

/**
 * Logs metric points of one run without blocking: `log()` validates and buffers, a background flusher
 * sends batches in order (by size, or after `flushIntervalMs`), each with (writerId, sequence) so a
 * retry is never stored twice. While the server is unreachable, or when too much waits in memory,
 * batches go to an fsynced spool file and are replayed in order once the server answers. A process
 * that ends normally flushes first; one that calls `process.exit()` spools what is unsent.
 */
export class MetricLogger implements SequenceWaits, ExitAwareLogger {
  readonly runId: string
  readonly writerId: string
  /** This logger's spool file (it exists only while batches wait in it). */
  readonly spoolFile: string
  readonly #onError: (error: WharfError) => void
  readonly #knownNames = new Set<string>()
  readonly #ledger = new DeliveryLedger()
  readonly #outage: Outage
  readonly #loop: SendLoop
  /** The handle of the batch being filled, made once for all its points. */
  #handle: PendingLog | undefined
  #handleSequence = -1
  #closed = false
  #closing: Promise<void> | undefined
  readonly #offline: boolean
  /** Read for the server's limits, which it learns from the server's health answer. */
  readonly #client: WharfClient

  /** Starts a logger; throws INVALID_ARGUMENT for a bad option. Replays spool files left by earlier loggers of the run. */
  constructor(options: MetricLoggerOptions) {
    if (typeof options.runId !== 'string' || options.runId === '') throw invalid('runId must be a non-empty string', 'runId')
    if (typeof options.spoolDir !== 'string' || options.spoolDir === '') {
      throw invalid('spoolDir must be a folder path', 'spoolDir')
    }
    const writerId = options.writerId ?? randomUUID()
    if (!isValidWriterId(writerId)) {
      throw invalid(`writerId "${printable(writerId)}" must be 1 to 128 letters, digits, "_" or "-"`, 'writerId')
    }
    this.runId = options.runId
    this.writerId = writerId
    this.spoolFile = spoolFilePath({ spoolDir: options.spoolDir, runId: options.runId, writerId })
    const policy = resolveRetryPolicy(options.retry)
    const maxBatchPoints = positiveInteger({
      name: 'maxBatchPoints',
      value: options.maxBatchPoints,
      fallback: DEFAULT_MAX_BATCH_POINTS,
      max: DEFAULT_LIMITS.pointsPerBatch,
    })
    const maxBufferedPoints = positiveInteger({
      name: 'maxBufferedPoints',
      value: options.maxBufferedPoints,
      fallback: Math.max(DEFAULT_MAX_BUFFERED_POINTS, maxBatchPoints),
    })
    const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS
    if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
      throw invalid(`flushIntervalMs must be a number of milliseconds from 0, got ${flushIntervalMs}`, 'flushIntervalMs')
    }
    this.#onError = options.onError ?? warnOf
    const waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS
    if (!Number.isFinite(waitTimeoutMs) || waitTimeoutMs < 0) {
      throw invalid(`waitTimeoutMs must be a number of milliseconds from 0, got ${waitTimeoutMs}`, 'waitTimeoutMs')
    }
    this.#offline = options.offline === true
    this.#client = options.client
    const report = (error: WharfError): void => this.#report(error)
    const who = { runId: this.runId, writerId, spoolFile: this.spoolFile }
    this.#outage = new Outage({ ...who, ledger: this.#ledger, waitTimeoutMs, report })
    this.#loop = new SendLoop({
      ...who,
      client: options.client,
      spoolDir: options.spoolDir,
      policy,
      maxBatchPoints,
      flushIntervalMs,
      maxBufferedPoints,
      offline: this.#offline,
      ledger: this.#ledger,
      outage: this.#outage,
      report,
    })
    liveLoggers.add(this)
  }

  /** True once `close()` was called: `log()` throws from then on. */
  get closed(): boolean {
    return this.#closed
  }

  /** Points this logger has written to its spool file (all of them for an offline logger). */
  get spooledPoints(): number {
    return this.#loop.spooledPoints
  }

  /** The sequence the next batch will get: how many batches this logger has started. */
  get sequence(): number {
    return this.#loop.sequence
  }

  /** Points in memory not yet acknowledged (the open batch, the queue and the batch in flight). */
  get bufferedPoints(): number {
    return this.#loop.bufferedPoints
  }

  /**
   * Buffers one point and returns at once. Throws INVALID_ARGUMENT (or LIMIT_EXCEEDED) at the call
   * for a bad name, value, step or time, and after `close()`; never for a server problem.
   */
  log(name: string, value: number | string, options?: MetricLogOptions): PendingLog {
    this.#checkPoint(name, value)
    const step = options?.step
    if (step !== undefined) this.#checkStep(name, step)
    return this.#add(name, value, step, this.#timeOf(name, options?.time))
  }

  /**
   * Logs a list as consecutive points of one metric (a chart), steps from `options.step` when given.
   * Validates every value before buffering any; returns the handle of the last point.
   */
  logList(name: string, values: readonly (number | string)[], options?: MetricLogOptions): PendingLog {
    this.#checkPoint(name, 0)
    if (!Array.isArray(values)) throw invalid(`metric "${printable(name)}": logList takes an array of values`, 'values')
    for (const value of values) this.#checkPoint(name, value)
    const first = options?.step
    if (first !== undefined) {
      this.#checkStep(name, first)
      this.#checkStep(name, first + Math.max(values.length - 1, 0))
    }
    const time = this.#timeOf(name, options?.time)
    let handle = this.#handleFor(this.#loop.openSequence ?? this.#loop.sequence - 1)
    for (let i = 0; i < values.length; i++) {
      handle = this.#add(name, values[i] as number | string, first === undefined ? undefined : first + i, time)
    }
    return handle
  }

  /**
   * Sends everything logged so far and resolves once all of it is stored. Rejects with the first
   * failure: a refused batch, or SERVER_UNREACHABLE naming the spool file the points wait in.
   */
  flush(options: FlushOptions = {}): Promise<void> {
    this.#loop.seal()
    const done = this[waitForSequence](this.#loop.sequence - 1)
    if (options.timeoutMs === undefined) return done
    return withTimeout(done, {
      ms: options.timeoutMs,
      error: () =>
        new WharfError(
          'SERVER_UNREACHABLE',
          `the metrics of run "${printable(this.runId)}" were not all stored within ${options.timeoutMs} ms; sending goes on in the background`,
        ),
    })
  }

  /**
   * Refuses further `log()` calls, then flushes. Whatever is still unsent when the flush ends (a
   * failure or the timeout) is saved to the spool file for `wharf sync`. With `waitForServer`, an
   * outage is waited out until `timeoutMs`. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options)
    return this.#closing
  }

  async #close(options: CloseOptions): Promise<void> {
    this.#closed = true
    if (options.waitForServer === true && options.timeoutMs !== undefined && !this.#offline) {
      // A fresh chance for the server: the spool is retried until the timeout, waits stay pending.
      this.#outage.waitForServer()
    } else {
      // A plain close() does not ride out an outage: what the server cannot take now goes to the spool.
      this.#outage.giveUpAtOnce()
    }
    let failure: WharfError | undefined
    try {
      await this.flush(options)
    } catch (error) {
      failure = toInternal(error, 'flush failed')
    }
    const points = this[spoolPointsInMemory]()
    this.#stop({ atExit: false })
    if (failure === undefined) return
    if (points === 0) throw failure
    const error = this.#unsentError({ points, why: `close() stopped waiting for the server (${failure.message})` })
    throw new WharfError(error.code, error.message, { cause: failure, ...(error.details ? { details: error.details } : {}) })
  }

  /** Stops sending, lets go of the spool file and the exit hooks, and rejects every wait still pending. */
  #stop(options: { atExit: boolean }): void {
    this.#loop.stop(options)
    liveLoggers.delete(this)
    // No promise is left hanging: what is not known to be stored now never will be by this logger.
    this.#ledger.rejectAll(this.#stoppedError())
  }

  #stoppedError(): WharfError {
    return new WharfError(
      'SERVER_UNREACHABLE',
      `the metric logger of run "${printable(this.runId)}" was closed before these points were acknowledged; ` +
        `they are saved in ${this.spoolFile}, and \`wharf sync\` sends them (a batch already stored is not stored twice)`,
      { details: { spoolFile: this.spoolFile, runId: this.runId, writerId: this.writerId } },
    )
  }

  // ---------------------------------------------------------------------------------- validation

  #checkPoint(name: string, value: unknown): void {
    if (this.#closed) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `the metric logger of run "${printable(this.runId)}" is closed; create a new MetricLogger to log more`,
      )
    }
    if (!this.#knownNames.has(name)) {
      assertMetricName(name, this.#limits)
      if (this.#knownNames.size < KNOWN_NAMES_CACHE) this.#knownNames.add(name)
    }
    // Every number is a valid value (NaN and ±Infinity travel as strings): the contract's check has
    // nothing to refuse, and this is the hot path of log(), so it is not asked.
    if (typeof value === 'number') return
    if (typeof value !== 'string') {
      throw invalid(`metric "${printable(name)}": a value must be a number or a string, got ${describe(value)}`, 'value')
    }
    // Refused here, not by the server: a refused batch would take the other points with it.
    this.#check({ name, text: value })
  }

  /** The contract's one point check, against the server's limits once known (the defaults until then). */
  #check(point: MetricPointFields): void {
    checkMetricPoint(point, { limits: this.#limits, place: { call: point.name } })
  }

  get #limits(): Readonly<typeof DEFAULT_LIMITS> {
    return this.#client.serverLimits ?? DEFAULT_LIMITS
  }

  #checkStep(name: string, step: unknown): void {
    assertStep(name, step)
  }

  #timeOf(name: string, time: unknown): number {
    if (time === undefined) return Date.now()
    this.#check({ name, value: 0, time })
    return time as number
  }

  // ---------------------------------------------------------------------------------- buffering

  // eslint-disable-next-line max-params -- called once per logged point: no options object to allocate
  #add(name: string, value: number | string, step: number | undefined, time: number): PendingLog {
    return this.#handleFor(this.#loop.add(name, value, step, time))
  }

  /** The handle for batch `sequence`: one object for all the points of a batch. */
  #handleFor(sequence: number): PendingLog {
    if (this.#handle === undefined || this.#handleSequence !== sequence) {
      this.#handle = new PendingLog(this, sequence)
      this.#handleSequence = sequence
    }
    return this.#handle
  }

  // ---------------------------------------------------------------------------------- waiting and exit

  #report(error: WharfError): void {
    try {
      this.#onError(error)
    } catch (handlerError) {
      // A throwing handler must not stop the flusher; say so instead of hiding it.
      process.emitWarning(`the onError handler of a MetricLogger threw: ${String(handlerError)}`, { type: 'WharfWarning' })
    }
  }

  /** @internal The promise behind {@link PendingLog.wait}. */
  [waitForSequence](sequence: number): Promise<void> {
    if (this.#loop.openSequence === sequence) this.#loop.seal()
    const known = this.#ledger.known(sequence)
    if (known !== undefined) return known
    if (this.#offline) {
      // Offline, the spool file is where points are kept: in it and fsynced is as stored as it gets.
      // Every sealed batch is in it (or lost, above), and nothing would ever settle a waiter.
      if (sequence > this.#ledger.spooledThrough) return Promise.reject(this.#stoppedError())
      this.#loop.syncSpool()
      this.#ledger.settleStored(this.#ledger.spooledThrough)
      return Promise.resolve()
    }
    if (this.#loop.stopped) return Promise.reject(this.#stoppedError())
    const refusal = this.#outage.refusalFor(sequence)
    if (refusal !== undefined) return Promise.reject(refusal)
    return this.#ledger.wait(sequence)
  }

  /** @internal True while points wait in memory (not yet stored, not in the spool file) and no close() looks after them. */
  [hasPointsInMemory](): boolean {
    return !this.#closed && this.bufferedPoints > 0
  }

  /**
   * @internal Writes every point still in memory to the spool file, synchronously and in order, and
   * returns how many. With a `reason`, tells onError about them (at exit no one else would).
   */
  [spoolPointsInMemory](reason?: string): number {
    const points = this.#loop.spoolPointsInMemory()
    // An offline logger's points belong in the spool; whoever made it tells the user about the run.
    if (reason !== undefined && points > 0 && !this.#offline) this.#report(this.#unsentError({ points, why: reason }))
    return points
  }

  /** @internal The process is exiting: spool what is in memory and let go of the spool file. */
  [releaseAtExit](): void {
    if (this.#loop.stopped) return
    this[spoolPointsInMemory]('the process exited before they were sent')
    this.#stop({ atExit: true })
  }

  #unsentError(options: { points: number; why: string }): WharfError {
    return new WharfError(
      'SERVER_UNREACHABLE',
      `${options.points} metric points of run "${printable(this.runId)}": ${options.why}; they are saved in ${this.spoolFile}, and \`wharf sync\` sends them`,
      { details: { spoolFile: this.spoolFile, runId: this.runId, writerId: this.writerId, points: options.points } },
    )
  }
}

/**
 * @internal Throws INVALID_ARGUMENT unless `step` is a whole number from 0 to 2^53-1. Checked here
 * rather than by the contract so the message can say what to pass instead.
 */
export function assertStep(name: string, step: unknown): void {
  if (typeof step === 'number' && Number.isSafeInteger(step) && step >= 0) return
  throw invalid(
    `metric "${printable(name)}": step must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describe(step)}; ` +
      "pass { step: <whole number> }, or leave step out to log at the metric's next step",
    'step',
  )
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${printable(value)}"`
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${typeof value} ${String(value)}`
  return value === null ? 'null' : typeof value
}

function withTimeout(promise: Promise<void>, options: { ms: number; error: () => WharfError }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Not unref'd: whoever asked to wait wants the process to stay for it.
    const timer = setTimeout(() => reject(options.error()), options.ms)
    promise.then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error instanceof Error ? error : toInternal(error, 'flush failed'))
      },
    )
  })
}
