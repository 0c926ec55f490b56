import type { WharfError } from '@wharf/contract'
import { toInternal } from './internal-error.js'
import type { FlushOptions } from './metric-logger.js'

/** How a process that ends normally waits for its loggers before spooling what is left. */
const EXIT_FLUSH_TIMEOUT_MS = 10_000

/** @internal True while points wait in memory (not stored, not in the spool file) and no close() looks after them. */
export const hasPointsInMemory = Symbol('hasPointsInMemory')
/** @internal Writes every point in memory to the spool file, synchronously; with a reason, tells onError. Returns how many. */
export const spoolPointsInMemory = Symbol('spoolPointsInMemory')
/** @internal The process is exiting: spool what is in memory and let go of the spool file. */
export const releaseAtExit = Symbol('releaseAtExit')

/** @internal What the exit hooks need of a logger. */
export interface ExitAwareLogger {
  readonly runId: string
  readonly writerId: string
  readonly closed: boolean
  flush(options?: FlushOptions): Promise<void>
  [hasPointsInMemory](): boolean
  [spoolPointsInMemory](reason?: string): number
  [releaseAtExit](): void
}

/** What {@link flushAllLoggers} did. */
export interface FlushAllResult {
  /** Loggers that were flushed. */
  loggers: number
  /** Loggers whose points are not all stored (they are in their spool files, or were refused). */
  failed: { runId: string; writerId: string; error: WharfError }[]
}

/** The part of `process` the hooks listen to: its two ends. */
export interface ExitEvents {
  on(event: 'beforeExit' | 'exit', listener: () => void): unknown
}

/**
 * The live loggers of a process and what becomes of their points when it ends. When the event loop
 * runs dry (`beforeExit`) and some logger holds points in memory, every open logger gets a bounded
 * moment to send them, which keeps the process alive; at `exit` (`process.exit()`, or the end after
 * `beforeExit`) nothing async runs any more, so each logger spools what is left synchronously. The
 * hooks are installed once, with the first logger.
 */
export class LoggerRegistry {
  readonly #events: ExitEvents
  readonly #live = new Set<ExitAwareLogger>()
  #hooksInstalled = false
  #exiting = false

  /** A registry whose hooks listen on `events` (the process, for the one every logger joins). */
  constructor(events: ExitEvents) {
    this.#events = events
  }

  /** True once the `exit` event came: warnings emitted from now on would never be printed. */
  get exiting(): boolean {
    return this.#exiting
  }

  /** Looks after `logger` at the end of the process until {@link delete}; installs the hooks the first time. */
  add(logger: ExitAwareLogger): void {
    this.#live.add(logger)
    if (this.#hooksInstalled) return
    this.#hooksInstalled = true
    this.#events.on('beforeExit', () => {
      if (![...this.#live].some((live) => live[hasPointsInMemory]())) return
      void this.flush({ timeoutMs: EXIT_FLUSH_TIMEOUT_MS, atExit: true })
    })
    this.#events.on('exit', () => {
      this.#exiting = true
      for (const live of [...this.#live]) live[releaseAtExit]()
    })
  }

  /** Stops looking after `logger` (it stopped). */
  delete(logger: ExitAwareLogger): void {
    this.#live.delete(logger)
  }

  /**
   * Flushes every logger, waiting at most `timeoutMs` each, then has each spool what is still unsent.
   * `atExit` leaves closing loggers to their close() and tells onError about spooled points. Never rejects.
   */
  async flush(options: FlushOptions & { atExit: boolean }): Promise<FlushAllResult> {
    // A closing logger is looked after by its close(): flushing it here would cut its wait short.
    const loggers = [...this.#live].filter((logger) => !options.atExit || !logger.closed)
    const failed: FlushAllResult['failed'] = []
    await Promise.all(
      loggers.map((logger) =>
        logger.flush(options).catch((error: unknown) => {
          failed.push({ runId: logger.runId, writerId: logger.writerId, error: toInternal(error, 'flush failed') })
        }),
      ),
    )
    // Nobody reads the result of the flush at the end of a process: the loggers tell their onError instead.
    const reason = options.atExit
      ? `the server did not take them within ${options.timeoutMs ?? 0} ms of the end of the process`
      : undefined
    for (const logger of loggers) logger[spoolPointsInMemory](reason)
    return { loggers: loggers.length, failed }
  }
}

/** @internal The registry every MetricLogger of this process joins, hooked to the process's own exit events. */
export const liveLoggers = new LoggerRegistry(process)

/**
 * Flushes every open logger of this process, waiting at most `timeoutMs` each, then writes whatever is
 * still unsent to the spool files. For signal handlers, before exiting. Never rejects.
 */
export function flushAllLoggers(options: FlushOptions = {}): Promise<FlushAllResult> {
  return liveLoggers.flush({ ...options, atExit: false })
}

/** The default onError: a process warning, or straight to stderr once the process is exiting (warnings are emitted later, which is never). */
export function warnOf(error: WharfError): void {
  if (liveLoggers.exiting) process.stderr.write(`(wharf) ${error.message}\n`)
  else process.emitWarning(error.message, { type: 'WharfWarning', code: error.code })
}
