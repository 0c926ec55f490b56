import { randomUUID } from 'node:crypto'
import type { WharfClient } from '@wharf/client'
import {
  DEFAULT_LIMITS,
  WharfError,
  assertMetricName,
  checkMetricPoint,
  isWharfError,
  printable,
  toWireNumber,
  type MetricPointFields,
  type MetricSeriesIn,
} from '@wharf/contract'
import { ColumnBatch } from './column-batch.js'
import {
  backoffDelay,
  isRetryable,
  resolveRetryPolicy,
  retryRequest,
  sleepUnref,
  toRequestError,
  type RetryOptions,
  type RetryPolicy,
} from '../retry.js'
import {
  SpoolWriter,
  isValidWriterId,
  parseSpoolLine,
  readSpoolLines,
  replaySpool,
  sendSpoolRecord,
  spoolFilePath,
  type SpoolRecord,
} from './spool.js'

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

/** What {@link flushAllLoggers} did. */
export interface FlushAllResult {
  /** Loggers that were flushed. */
  loggers: number
  /** Loggers whose points are not all stored (they are in their spool files, or were refused). */
  failed: { runId: string; writerId: string; error: WharfError }[]
}

const waitForSequence = Symbol('waitForSequence')
const hasPointsInMemory = Symbol('hasPointsInMemory')
const spoolPointsInMemory = Symbol('spoolPointsInMemory')
const releaseAtExit = Symbol('releaseAtExit')

/**
 * The handle `log()` returns: `await` it (or its `wait()`) to know that the point and every point the
 * same logger took before it are durably stored. Nothing is waited for unless asked, so an ignored
 * handle never turns into an unhandled rejection.
 */
export class PendingLog implements PromiseLike<void> {
  readonly #logger: MetricLogger
  readonly #sequence: number

  /** Made by {@link MetricLogger.log}; `sequence` is the batch the point went into. */
  constructor(logger: MetricLogger, sequence: number) {
    this.#logger = logger
    this.#sequence = sequence
  }

  /**
   * Resolves once this point and every earlier point of its logger are stored on the server. Rejects
   * with a WharfError when one of them cannot be: refused by the server, or saved to the spool file
   * because the server stayed unreachable (the message names the file; `wharf sync` sends it).
   */
  wait(): Promise<void> {
    return this.#logger[waitForSequence](this.#sequence)
  }

  then<TResult1 = void, TResult2 = never>(
    onfulfilled?: ((value: void) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.wait().then(onfulfilled, onrejected)
  }
}

interface SealedBatch {
  sequence: number
  series: MetricSeriesIn[]
  points: number
  /** Written to the spool file: from now on the spool replay decides its fate. */
  spooled: boolean
}

interface Waiter {
  promise: Promise<void>
  resolve: () => void
  reject: (error: WharfError) => void
}

interface LostBatch {
  sequence: number
  error: WharfError
}

const DEFAULT_MAX_BATCH_POINTS = 1000
const DEFAULT_FLUSH_INTERVAL_MS = 200
const DEFAULT_MAX_BUFFERED_POINTS = 100_000
const KNOWN_NAMES_CACHE = 10_000
/** How long a process that ends normally waits for its loggers before spooling what is left. */
const EXIT_FLUSH_TIMEOUT_MS = 10_000
/** Longer than any timer can be; the interval only holds the event loop open while someone waits. */
const KEEP_ALIVE_MS = 2 ** 31 - 1
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
export class MetricLogger {
  readonly runId: string
  readonly writerId: string
  /** This logger's spool file (it exists only while batches wait in it). */
  readonly spoolFile: string
  readonly #client: WharfClient
  readonly #spoolDir: string
  readonly #policy: RetryPolicy
  readonly #maxBatchPoints: number
  readonly #flushIntervalMs: number
  readonly #maxBufferedPoints: number
  readonly #onError: (error: WharfError) => void
  readonly #knownNames = new Set<string>()

  #open: ColumnBatch | undefined
  #openHandle: PendingLog | undefined
  #nextSequence = 0
  #timer: NodeJS.Timeout | undefined
  /** Sealed batches waiting to be sent directly, in sequence order. */
  #queue: SealedBatch[] = []
  #queuedPoints = 0
  #inflight: SealedBatch | undefined
  /** `spool` from the first batch that went to the spool file until the file is replayed to the end. */
  #mode: 'direct' | 'spool' = 'direct'
  #spool: SpoolWriter | undefined
  /** Bytes at the start of the spool file that the server has acknowledged. */
  #spoolRead = 0
  #spooledThrough = -1
  /** Every sequence up to this one is stored (or lost, see #firstLost). */
  #storedThrough = -1
  #firstLost: LostBatch | undefined
  #lastLost: LostBatch | undefined
  /** Set while the spool cannot be sent (the server stayed unreachable): waits on spooled points reject. */
  #parked: WharfError | undefined
  /** Runs while parked: when it fires, waits on spooled points stop riding out the outage and reject. */
  #giveUpTimer: NodeJS.Timeout | undefined
  #waitsExpired = false
  readonly #waitTimeoutMs: number
  /** waitTimeoutMs 0, or a plain close(): waits on spooled points reject as soon as they are parked. */
  #waitsGiveUpAtOnce = false
  #probeFailures = 0
  readonly #waiters = new Map<number, Waiter>()
  #pumping = false
  /** Aborts the request in flight when its batch has just been spooled on the way out of the process. */
  #requests = new AbortController()
  readonly #ready: Promise<void>
  #closed = false
  #closing: Promise<void> | undefined
  #stopped = false
  readonly #offline: boolean
  /** Set by close({ waitForServer }): an outage no longer rejects waits; the close's timeout ends them. */
  #patient = false
  /** Points written to the spool file by this logger. */
  #spooledPoints = 0
  /**
   * Held (ref'd) while anyone waits for points: retries sleep on unref'd timers, and without this a
   * script awaiting `.wait()` during an outage would see the event loop run dry, and the exit path
   * (beforeExit) would start while the script is still running.
   */
  #keepAlive: NodeJS.Timeout | undefined

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
    this.#client = options.client
    this.#spoolDir = options.spoolDir
    this.spoolFile = spoolFilePath({ spoolDir: options.spoolDir, runId: options.runId, writerId })
    this.#policy = resolveRetryPolicy(options.retry)
    this.#maxBatchPoints = positiveInteger({
      name: 'maxBatchPoints',
      value: options.maxBatchPoints,
      fallback: DEFAULT_MAX_BATCH_POINTS,
      max: DEFAULT_LIMITS.pointsPerBatch,
    })
    this.#maxBufferedPoints = positiveInteger({
      name: 'maxBufferedPoints',
      value: options.maxBufferedPoints,
      fallback: Math.max(DEFAULT_MAX_BUFFERED_POINTS, this.#maxBatchPoints),
    })
    this.#flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS
    if (!Number.isFinite(this.#flushIntervalMs) || this.#flushIntervalMs < 0) {
      throw invalid(`flushIntervalMs must be a number of milliseconds from 0, got ${this.#flushIntervalMs}`, 'flushIntervalMs')
    }
    this.#onError = options.onError ?? warnOf
    this.#waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS
    if (!Number.isFinite(this.#waitTimeoutMs) || this.#waitTimeoutMs < 0) {
      throw invalid(`waitTimeoutMs must be a number of milliseconds from 0, got ${this.#waitTimeoutMs}`, 'waitTimeoutMs')
    }
    this.#waitsGiveUpAtOnce = this.#waitTimeoutMs === 0
    this.#offline = options.offline === true
    if (this.#offline) this.#mode = 'spool'
    // Points left in spool files by earlier loggers of this run come first, so steps stay in order.
    this.#ready = this.#offline ? Promise.resolve() : this.#replayEarlierSpools()
    registerLogger(this)
  }

  /** True once `close()` was called: `log()` throws from then on. */
  get closed(): boolean {
    return this.#closed
  }

  /** Points this logger has written to its spool file (all of them for an offline logger). */
  get spooledPoints(): number {
    return this.#spooledPoints
  }

  /** The sequence the next batch will get: how many batches this logger has started. */
  get sequence(): number {
    return this.#nextSequence
  }

  /** Points in memory not yet acknowledged (the open batch, the queue and the batch in flight). */
  get bufferedPoints(): number {
    return (this.#open?.points ?? 0) + this.#queuedPoints + (this.#inflight?.spooled === false ? this.#inflight.points : 0)
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
    let handle = this.#openHandle ?? new PendingLog(this, this.#nextSequence - 1)
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
    this.#seal()
    const done = this[waitForSequence](this.#nextSequence - 1)
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
      this.#patient = true
      this.#unpark()
    } else {
      // A plain close() does not ride out an outage: what the server cannot take now goes to the spool.
      this.#waitsGiveUpAtOnce = true
      if (this.#parked !== undefined) this.#expireWaits()
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

  #stop(options: { atExit: boolean }): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    clearTimeout(this.#giveUpTimer)
    this.#giveUpTimer = undefined
    const spool = this.#spool
    this.#spool = undefined
    spool?.close({ remove: this.#spoolRead >= spool.written, atExit: options.atExit })
    unregisterLogger(this)
    // No promise is left hanging: what is not known to be stored now never will be by this logger.
    const error = this.#stoppedError()
    for (const waiter of this.#waiters.values()) waiter.reject(error)
    this.#waiters.clear()
    this.#releaseKeepAlive()
  }

  #releaseKeepAlive(): void {
    if (this.#waiters.size > 0 || this.#keepAlive === undefined) return
    clearInterval(this.#keepAlive)
    this.#keepAlive = undefined
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
    if (typeof value !== 'number' && typeof value !== 'string') {
      throw invalid(`metric "${printable(name)}": a value must be a number or a string, got ${describe(value)}`, 'value')
    }
    // Refused here, not by the server: a refused batch would take the other points with it.
    this.#check(typeof value === 'number' ? { name, value: toWireNumber(value) } : { name, text: value })
  }

  /** The contract's one point check, against the server's limits once known (the defaults until then). */
  #check(point: MetricPointFields): void {
    checkMetricPoint(point, { limits: this.#limits, place: { call: point.name } })
  }

  get #limits(): Readonly<typeof DEFAULT_LIMITS> {
    return this.#client.serverLimits ?? DEFAULT_LIMITS
  }

  #checkStep(name: string, step: unknown): void {
    this.#check({ name, value: 0, step })
  }

  #timeOf(name: string, time: unknown): number {
    if (time === undefined) return Date.now()
    this.#check({ name, value: 0, time })
    return time as number
  }

  // ---------------------------------------------------------------------------------- buffering

  // eslint-disable-next-line max-params -- called once per logged point: no options object to allocate
  #add(name: string, value: number | string, step: number | undefined, time: number): PendingLog {
    let batch = this.#open
    let handle = this.#openHandle
    if (batch === undefined || handle === undefined) {
      batch = new ColumnBatch(this.#nextSequence++)
      handle = new PendingLog(this, batch.sequence)
      this.#open = batch
      this.#openHandle = handle
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined
        this.#seal()
      }, this.#flushIntervalMs).unref()
    }
    batch.add(name, value, step, time)
    if (batch.points >= this.#maxBatchPoints) this.#seal()
    return handle
  }

  /** Closes the open batch and hands it on: to the send queue, or to the spool while spooling. */
  #seal(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const open = this.#open
    if (open === undefined) return
    this.#open = undefined
    this.#openHandle = undefined
    const batch: SealedBatch = { sequence: open.sequence, series: open.series, points: open.points, spooled: false }
    if (this.#mode === 'spool') {
      this.#writeToSpool([batch])
    } else {
      this.#queue.push(batch)
      this.#queuedPoints += batch.points
      // The server is slow or down: keep memory bounded, the spool file takes the rest in order.
      if (this.#queuedPoints + (this.#inflight?.spooled === false ? this.#inflight.points : 0) > this.#maxBufferedPoints) {
        this.#divertToSpool()
      }
    }
    this.#kick()
  }

  /** Moves the batch in flight (its outcome unknown yet) and every queued batch to the spool, in order. */
  #divertToSpool(): void {
    const batches: SealedBatch[] = []
    if (this.#inflight !== undefined && !this.#inflight.spooled) batches.push(this.#inflight)
    batches.push(...this.#queue)
    if (batches.length === 0) return
    this.#queue = []
    this.#queuedPoints = 0
    this.#mode = 'spool'
    this.#writeToSpool(batches)
  }

  #writeToSpool(batches: SealedBatch[]): void {
    if (batches.length === 0) return
    try {
      this.#spool ??= SpoolWriter.open(this.spoolFile)
      this.#spool.append(batches.map((batch) => this.#recordOf(batch)))
    } catch (cause) {
      const points = batches.reduce((sum, batch) => sum + batch.points, 0)
      const error = new WharfError(
        'INTERNAL',
        `could not save ${points} metric points of run "${printable(this.runId)}" to the spool file ${this.spoolFile} (${(cause as Error).message}); they are lost. Check that the folder is writable and has space`,
        { cause, details: { spoolFile: this.spoolFile } },
      )
      for (const batch of batches) this.#markLost(batch.sequence, error)
      this.#report(error)
      return
    }
    for (const batch of batches) {
      batch.spooled = true
      this.#spooledPoints += batch.points
      this.#spooledThrough = Math.max(this.#spooledThrough, batch.sequence)
    }
    if (this.#parked !== undefined && this.#waitsExpired && !this.#patient) this.#rejectSpooledWaiters(this.#parked)
  }

  #recordOf(batch: SealedBatch): SpoolRecord {
    return {
      runId: this.runId,
      workspace: this.#client.workspace,
      writerId: this.writerId,
      sequence: batch.sequence,
      series: batch.series,
    }
  }

  // ---------------------------------------------------------------------------------- sending

  #kick(): void {
    if (this.#pumping || this.#stopped || this.#offline) return
    this.#pumping = true
    void this.#pump()
      .catch((error: unknown) => {
        // Back off before the restart below, so an unexpected failure cannot spin.
        this.#probeFailures++
        this.#report(toInternal(error, 'the metric flusher failed'))
      })
      .finally(() => {
        this.#pumping = false
        if (this.#hasWork()) this.#kick()
      })
  }

  #hasWork(): boolean {
    if (this.#stopped) return false
    return this.#mode === 'direct' ? this.#queue.length > 0 : true
  }

  /** The one loop that sends, so batches go out one at a time and in order. */
  async #pump(): Promise<void> {
    await this.#ready
    while (!this.#stopped) {
      if (this.#mode === 'direct') {
        const batch = this.#queue.shift()
        if (batch === undefined) return
        this.#queuedPoints -= batch.points
        this.#inflight = batch
        try {
          await this.#sendDirect(batch)
        } finally {
          this.#inflight = undefined
        }
      } else {
        if (this.#probeFailures > 0) await sleepUnref(backoffDelay(this.#policy, this.#probeFailures))
        if (this.#stopped) return
        await this.#replayOwnSpool()
      }
    }
  }

  async #sendDirect(batch: SealedBatch): Promise<void> {
    const signal = this.#requests.signal
    try {
      await retryRequest(() => sendSpoolRecord(this.#client, this.#recordOf(batch), { signal }), {
        policy: this.#policy,
        serverUrl: this.#client.url,
        shouldStop: () => batch.spooled || this.#stopped,
      })
      this.#inflight = undefined
      this.#settleStored(batch.sequence)
    } catch (cause) {
      const error = toRequestError(cause, this.#client.url)
      // Already in the spool (memory bound, or an exit): the replay of the spool decides.
      if (batch.spooled || signal.aborted) return
      if (isRetryable(error)) {
        this.#divertToSpool()
        this.#probeFailures = this.#policy.attempts
        this.#park(error)
      } else {
        this.#markLost(batch.sequence, error)
        this.#report(error)
      }
    }
  }

  /**
   * Sends the spool file from where the last replay stopped, one line at a time and in order; once
   * it is all acknowledged the file is deleted and sending goes direct again.
   */
  async #replayOwnSpool(): Promise<void> {
    const spool = this.#spool
    if (this.#finishSpoolIfDrained() || spool === undefined) return
    try {
      for await (const line of readSpoolLines(spool.file, { start: this.#spoolRead, end: spool.written })) {
        if (this.#stopped) return
        const outcome = await this.#replayLine(line.text, spool.file)
        if (outcome === 'stop') return
        this.#spoolRead = line.end
        // Switch back before anyone waiting hears of the last batch, so they find the spool gone.
        this.#finishSpoolIfDrained()
        if (outcome !== undefined) this.#settleStored(outcome)
      }
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
        // A read error may pass (a busy disk); try again after a backoff rather than in a tight loop.
        this.#probeFailures++
        this.#report(toInternal(cause, `could not read the spool file ${spool.file}`))
        return
      }
      const error = new WharfError(
        'INTERNAL',
        `the spool file ${spool.file} was deleted before its batches were sent; the points in it are lost`,
        { cause },
      )
      this.#markLost(this.#storedThrough + 1, error)
      this.#report(error)
      this.#spoolRead = spool.written
      this.#finishSpoolIfDrained()
    }
  }

  /**
   * Sends one spool line. Returns the sequence it stored, undefined for a line passed over (unreadable,
   * already stored, or refused for good), or 'stop' when the replay must stop here.
   */
  async #replayLine(text: string, file: string): Promise<number | undefined | 'stop'> {
    const record = parseSpoolLine(text)
    if (typeof record === 'string') {
      if (text.trim() !== '') this.#report(new WharfError('INTERNAL', `skipped an unreadable line in ${file}: ${record}`))
      return undefined
    }
    // Stored already: the batch was in flight when it was spooled, and its answer came back.
    if (record.sequence <= this.#storedThrough) return undefined
    const signal = this.#requests.signal
    let stored: number | undefined = record.sequence
    try {
      await sendSpoolRecord(this.#client, record, { signal })
    } catch (cause) {
      if (signal.aborted) return 'stop'
      const error = toRequestError(cause, this.#client.url)
      if (isRetryable(error)) {
        this.#probeFailures++
        if (this.#probeFailures >= this.#policy.attempts && this.#parked === undefined) this.#park(error)
        return 'stop'
      }
      // Refused for good, as it would have been if sent directly: report it and go on.
      stored = undefined
      this.#markLost(record.sequence, error)
      this.#report(error)
    }
    this.#probeFailures = 0
    this.#unpark()
    return stored
  }

  /** Back to direct sending once the spool file is acknowledged to its end. */
  #finishSpoolIfDrained(): boolean {
    const spool = this.#spool
    if (spool !== undefined && this.#spoolRead < spool.written) return false
    // Nothing is awaited between the check and the switch, so no append can slip in between.
    this.#spool = undefined
    spool?.close({ remove: true })
    this.#spoolRead = 0
    this.#mode = 'direct'
    this.#unpark()
    this.#probeFailures = 0
    return true
  }

  async #replayEarlierSpools(): Promise<void> {
    try {
      const result = await replaySpool({
        client: this.#client,
        spoolDir: this.#spoolDir,
        runId: this.runId,
        retry: this.#policy,
        onWarning: (message) => this.#report(new WharfError('INTERNAL', message)),
      })
      for (const failure of result.failed) {
        this.#report(
          new WharfError(
            failure.error.code,
            `could not replay the spool file ${failure.file} of run "${printable(this.runId)}": ${failure.error.message}; it is kept for \`wharf sync\``,
            { cause: failure.error },
          ),
        )
      }
    } catch (error) {
      this.#report(toInternal(error, `could not replay the spool files in ${this.#spoolDir}`))
    }
  }

  // ---------------------------------------------------------------------------------- settling

  #settleStored(sequence: number): void {
    if (sequence <= this.#storedThrough) return
    this.#storedThrough = sequence
    for (const [waited, waiter] of this.#waiters) {
      if (waited > sequence) continue
      this.#waiters.delete(waited)
      const lost = this.#lostError(waited)
      if (lost === undefined) waiter.resolve()
      else waiter.reject(lost)
    }
  }

  #markLost(sequence: number, error: WharfError): void {
    const lost = { sequence, error }
    this.#firstLost ??= lost
    this.#lastLost = lost
    for (const [waited, waiter] of this.#waiters) {
      if (waited < sequence) continue
      this.#waiters.delete(waited)
      waiter.reject(this.#lostError(waited) ?? error)
    }
  }

  #lostError(sequence: number): WharfError | undefined {
    const first = this.#firstLost
    if (first === undefined || first.sequence > sequence) return undefined
    if (this.#lastLost?.sequence === sequence) return this.#lastLost.error
    if (first.sequence === sequence) return first.error
    return new WharfError(
      first.error.code,
      `an earlier batch of this logger (sequence ${first.sequence}) could not be stored, so not every point up to this one is: ${first.error.message}`,
      { cause: first.error, details: { sequence: first.sequence } },
    )
  }

  #park(cause: WharfError): void {
    const error = new WharfError(
      cause.code,
      `could not send the metrics of run "${printable(this.runId)}": ${cause.message}. ` +
        `They are saved in ${this.spoolFile}; \`wharf sync\` sends them (and so does this logger once the server answers, or the next logger of this run)`,
      { cause, details: { spoolFile: this.spoolFile, runId: this.runId, writerId: this.writerId } },
    )
    this.#parked = error
    this.#report(error)
    if (this.#patient) return
    if (this.#waitsGiveUpAtOnce) {
      this.#expireWaits()
      return
    }
    // Unref'd: a process with nobody waiting may end (its points are in the spool); a waiter holds it open.
    this.#giveUpTimer ??= setTimeout(() => this.#expireWaits(), this.#waitTimeoutMs).unref()
  }

  #expireWaits(): void {
    this.#giveUpTimer = undefined
    this.#waitsExpired = true
    if (this.#parked !== undefined && !this.#patient) this.#rejectSpooledWaiters(this.#parked)
  }

  /** The server answered again: waits go back to waiting for it. */
  #unpark(): void {
    this.#parked = undefined
    this.#waitsExpired = false
    clearTimeout(this.#giveUpTimer)
    this.#giveUpTimer = undefined
  }

  #rejectSpooledWaiters(error: WharfError): void {
    for (const [waited, waiter] of this.#waiters) {
      if (waited <= this.#storedThrough || waited > this.#spooledThrough) continue
      this.#waiters.delete(waited)
      waiter.reject(error)
    }
  }

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
    if (this.#open?.sequence === sequence) this.#seal()
    const lost = this.#lostError(sequence)
    if (lost !== undefined) return Promise.reject(lost)
    if (sequence <= this.#storedThrough) return Promise.resolve()
    if (this.#offline) {
      // Offline, the spool file is where points are kept: in it and fsynced is as stored as it gets.
      // Every sealed batch is in it (or lost, above), and nothing would ever settle a waiter.
      if (sequence > this.#spooledThrough) return Promise.reject(this.#stoppedError())
      this.#spool?.syncNow()
      this.#settleStored(this.#spooledThrough)
      return Promise.resolve()
    }
    if (this.#stopped) return Promise.reject(this.#stoppedError())
    if (this.#parked !== undefined && this.#waitsExpired && !this.#patient && sequence <= this.#spooledThrough) {
      return Promise.reject(this.#parked)
    }
    let waiter = this.#waiters.get(sequence)
    if (waiter === undefined) {
      let resolve!: () => void
      let reject!: (error: WharfError) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      waiter = { promise, resolve, reject }
      this.#waiters.set(sequence, waiter)
      this.#keepAlive ??= setInterval(() => undefined, KEEP_ALIVE_MS)
      const release = (): void => this.#releaseKeepAlive()
      void promise.then(release, release)
    }
    return waiter.promise
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
    if (this.#stopped) return 0
    const points = this.bufferedPoints
    this.#seal()
    this.#divertToSpool()
    this.#spool?.syncNow()
    // What was in flight is in the spool now; a hung server must not hold the process open, and the
    // next replay waits on an unref'd timer, so a process on its way out is free to go.
    this.#requests.abort()
    this.#requests = new AbortController()
    if (this.#mode === 'spool') this.#probeFailures = Math.max(this.#probeFailures, 1)
    // An offline logger's points belong in the spool; whoever made it tells the user about the run.
    if (reason !== undefined && points > 0 && !this.#offline) this.#report(this.#unsentError({ points, why: reason }))
    return points
  }

  /** @internal The process is exiting: spool what is in memory and let go of the spool file. */
  [releaseAtExit](): void {
    if (this.#stopped) return
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

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${printable(value)}"`
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`
  return value === null ? 'null' : typeof value
}

function toInternal(error: unknown, what: string): WharfError {
  if (isWharfError(error)) return error
  return new WharfError('INTERNAL', `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
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

// ------------------------------------------------------------------------------------ process exit

const liveLoggers = new Set<MetricLogger>()
let hooksInstalled = false

function registerLogger(logger: MetricLogger): void {
  liveLoggers.add(logger)
  if (hooksInstalled) return
  hooksInstalled = true
  // The event loop ran dry: give the loggers a bounded moment to send, which keeps the process alive.
  process.on('beforeExit', () => {
    if (![...liveLoggers].some((live) => live[hasPointsInMemory]())) return
    void flushLoggers({ timeoutMs: EXIT_FLUSH_TIMEOUT_MS, atExit: true })
  })
  // process.exit() or the end after beforeExit: nothing async runs any more, so spool synchronously.
  process.on('exit', () => {
    processExiting = true
    for (const live of [...liveLoggers]) live[releaseAtExit]()
  })
}

let processExiting = false

/** The default onError: a process warning, or straight to stderr once the process is exiting (warnings are emitted later, which is never). */
function warnOf(error: WharfError): void {
  if (processExiting) process.stderr.write(`(wharf) ${error.message}\n`)
  else process.emitWarning(error.message, { type: 'WharfWarning', code: error.code })
}

function unregisterLogger(logger: MetricLogger): void {
  liveLoggers.delete(logger)
}

/**
 * Flushes every open logger of this process, waiting at most `timeoutMs` each, then writes whatever is
 * still unsent to the spool files. For signal handlers, before exiting. Never rejects.
 */
export function flushAllLoggers(options: FlushOptions = {}): Promise<FlushAllResult> {
  return flushLoggers({ ...options, atExit: false })
}

async function flushLoggers(options: FlushOptions & { atExit: boolean }): Promise<FlushAllResult> {
  // A closing logger is looked after by its close(): flushing it here would cut its wait short.
  const loggers = [...liveLoggers].filter((logger) => !options.atExit || !logger.closed)
  const failed: FlushAllResult['failed'] = []
  await Promise.all(
    loggers.map((logger) =>
      logger.flush(options).catch((error: unknown) => {
        failed.push({ runId: logger.runId, writerId: logger.writerId, error: toInternal(error, 'flush failed') })
      }),
    ),
  )
  // Nobody reads the result of the flush at the end of a process: the loggers tell their onError instead.
  const reason = options.atExit ? `the server did not take them within ${options.timeoutMs ?? 0} ms of the end of the process` : undefined
  for (const logger of loggers) logger[spoolPointsInMemory](reason)
  return { loggers: loggers.length, failed }
}
