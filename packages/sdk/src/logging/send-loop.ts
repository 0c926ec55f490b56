import type { WharfClient } from '@wharf/client'
import { WharfError, printable, type MetricSeriesIn } from '@wharf/contract'
import { ColumnBatch } from './column-batch.js'
import { toInternal } from './internal-error.js'
import type { DeliveryLedger } from './ledger.js'
import type { Outage } from './outage.js'
import { backoffDelay, isRetryable, retryRequest, sleepUnref, toRequestError, type RetryPolicy } from '../retry.js'
import { parseSpoolLine, readSpoolLines, type SpoolRecord } from './spool-file.js'
import { replaySpool } from './spool-replay.js'
import { sendSpoolRecord } from './spool-send.js'
import { SpoolWriter } from './spool-writer.js'

/** What a {@link SendLoop} sends where, and how it batches; the limits are checked by its logger. */
export interface SendLoopOptions {
  client: WharfClient
  runId: string
  writerId: string
  spoolDir: string
  spoolFile: string
  policy: RetryPolicy
  maxBatchPoints: number
  flushIntervalMs: number
  maxBufferedPoints: number
  offline: boolean
  ledger: DeliveryLedger
  outage: Outage
  report: (error: WharfError) => void
}

interface SealedBatch {
  sequence: number
  series: MetricSeriesIn[]
  points: number
  /** Written to the spool file: from now on the spool replay decides its fate. */
  spooled: boolean
}

/**
 * Batches points and sends the batches of one logger, one at a time and in order: a batch is sealed
 * by size or by the one dispatch timer, queued, and sent with retries; when the retries run out (or
 * too much waits in memory) it and every later batch go to the spool file, which the same loop
 * replays with backoff until it is drained and sending goes direct again. Tells the ledger what
 * became of each batch and the outage when the server is given up on or answers again.
 */
export class SendLoop {
  readonly #options: SendLoopOptions
  readonly #client: WharfClient
  readonly #ledger: DeliveryLedger
  readonly #outage: Outage
  #open: ColumnBatch | undefined
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
  #probeFailures = 0
  #pumping = false
  /** Aborts the request in flight when its batch has just been spooled on the way out of the process. */
  #requests = new AbortController()
  readonly #ready: Promise<void>
  #stopped = false
  /** Points written to the spool file by this loop. */
  #spooledPoints = 0

  /** Starts idle; replays spool files left by earlier loggers of the run before its first send. */
  constructor(options: SendLoopOptions) {
    this.#options = options
    this.#client = options.client
    this.#ledger = options.ledger
    this.#outage = options.outage
    if (options.offline) this.#mode = 'spool'
    // Points left in spool files by earlier loggers of this run come first, so steps stay in order.
    this.#ready = options.offline ? Promise.resolve() : this.#replayEarlierSpools()
  }

  /** The sequence the next batch will get: how many batches were started. */
  get sequence(): number {
    return this.#nextSequence
  }

  /** The sequence of the batch being filled, if any. */
  get openSequence(): number | undefined {
    return this.#open?.sequence
  }

  /** Points in memory not yet acknowledged (the open batch, the queue and the batch in flight). */
  get bufferedPoints(): number {
    return (this.#open?.points ?? 0) + this.#queuedPoints + (this.#inflight?.spooled === false ? this.#inflight.points : 0)
  }

  /** Points written to the spool file. */
  get spooledPoints(): number {
    return this.#spooledPoints
  }

  /** True once {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped
  }

  /** Adds one validated point to the open batch (opening one, and its timer, if none is) and returns that batch's sequence. */
  // eslint-disable-next-line max-params -- called once per logged point: no options object to allocate
  add(name: string, value: number | string, step: number | undefined, time: number): number {
    let batch = this.#open
    if (batch === undefined) {
      batch = new ColumnBatch(this.#nextSequence++)
      this.#open = batch
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined
        this.seal()
      }, this.#options.flushIntervalMs).unref()
    }
    batch.add(name, value, step, time)
    const sequence = batch.sequence
    if (batch.points >= this.#options.maxBatchPoints) this.seal()
    return sequence
  }

  /** Closes the open batch and hands it on: to the send queue, or to the spool while spooling. */
  seal(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const open = this.#open
    if (open === undefined) return
    this.#open = undefined
    const batch: SealedBatch = { sequence: open.sequence, series: open.series, points: open.points, spooled: false }
    if (this.#mode === 'spool') {
      this.#writeToSpool([batch])
    } else {
      this.#queue.push(batch)
      this.#queuedPoints += batch.points
      // The server is slow or down: keep memory bounded, the spool file takes the rest in order.
      if (
        this.#queuedPoints + (this.#inflight?.spooled === false ? this.#inflight.points : 0) >
        this.#options.maxBufferedPoints
      ) {
        this.#divertToSpool()
      }
    }
    this.#kick()
  }

  /** Fsyncs the spool file now, on this thread. */
  syncSpool(): void {
    this.#spool?.syncNow()
  }

  /**
   * Writes every point still in memory to the spool file, synchronously and in order, fsyncs it and
   * returns how many; the request in flight is abandoned (its batch is in the spool now).
   */
  spoolPointsInMemory(): number {
    if (this.#stopped) return 0
    const points = this.bufferedPoints
    this.seal()
    this.#divertToSpool()
    this.#spool?.syncNow()
    // What was in flight is in the spool now; a hung server must not hold the process open, and the
    // next replay waits on an unref'd timer, so a process on its way out is free to go.
    this.#requests.abort()
    this.#requests = new AbortController()
    if (this.#mode === 'spool') this.#probeFailures = Math.max(this.#probeFailures, 1)
    return points
  }

  /** Stops sending and lets go of the spool file (deleted if all of it is stored). Idempotent. */
  stop(options: { atExit: boolean }): void {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#outage.stop()
    const spool = this.#spool
    this.#spool = undefined
    spool?.close({ remove: this.#spoolRead >= spool.written, atExit: options.atExit })
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
    const { runId, spoolFile } = this.#options
    try {
      this.#spool ??= SpoolWriter.open(spoolFile)
      this.#spool.append(batches.map((batch) => this.#recordOf(batch)))
    } catch (cause) {
      const points = batches.reduce((sum, batch) => sum + batch.points, 0)
      const error = new WharfError(
        'INTERNAL',
        `could not save ${points} metric points of run "${printable(runId)}" to the spool file ${spoolFile} (${(cause as Error).message}); they are lost. Check that the folder is writable and has space`,
        { cause, details: { spoolFile } },
      )
      for (const batch of batches) this.#ledger.markLost(batch.sequence, error)
      this.#options.report(error)
      return
    }
    for (const batch of batches) {
      batch.spooled = true
      this.#spooledPoints += batch.points
      this.#ledger.markSpooled(batch.sequence)
    }
    this.#outage.refuseSpooledWaits()
  }

  #recordOf(batch: SealedBatch): SpoolRecord {
    return {
      runId: this.#options.runId,
      workspace: this.#client.workspace,
      writerId: this.#options.writerId,
      sequence: batch.sequence,
      series: batch.series,
    }
  }

  #kick(): void {
    if (this.#pumping || this.#stopped || this.#options.offline) return
    this.#pumping = true
    void this.#pump()
      .catch((error: unknown) => {
        // Back off before the restart below, so an unexpected failure cannot spin.
        this.#probeFailures++
        this.#options.report(toInternal(error, 'the metric flusher failed'))
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
        if (this.#probeFailures > 0) await sleepUnref(backoffDelay(this.#options.policy, this.#probeFailures))
        if (this.#stopped) return
        await this.#replayOwnSpool()
      }
    }
  }

  async #sendDirect(batch: SealedBatch): Promise<void> {
    const signal = this.#requests.signal
    try {
      await retryRequest(() => sendSpoolRecord(this.#client, this.#recordOf(batch), { signal }), {
        policy: this.#options.policy,
        serverUrl: this.#client.url,
        shouldStop: () => batch.spooled || this.#stopped,
      })
      this.#inflight = undefined
      this.#ledger.settleStored(batch.sequence)
    } catch (cause) {
      const error = toRequestError(cause, this.#client.url)
      // Already in the spool (memory bound, or an exit): the replay of the spool decides.
      if (batch.spooled || signal.aborted) return
      if (isRetryable(error)) {
        this.#divertToSpool()
        this.#probeFailures = this.#options.policy.attempts
        this.#outage.park(error)
      } else {
        this.#ledger.markLost(batch.sequence, error)
        this.#options.report(error)
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
        if (outcome !== undefined) this.#ledger.settleStored(outcome)
      }
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
        // A read error may pass (a busy disk); try again after a backoff rather than in a tight loop.
        this.#probeFailures++
        this.#options.report(toInternal(cause, `could not read the spool file ${spool.file}`))
        return
      }
      const error = new WharfError(
        'INTERNAL',
        `the spool file ${spool.file} was deleted before its batches were sent; the points in it are lost`,
        { cause },
      )
      this.#ledger.markLost(this.#ledger.storedThrough + 1, error)
      this.#options.report(error)
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
      if (text.trim() !== '') this.#options.report(new WharfError('INTERNAL', `skipped an unreadable line in ${file}: ${record}`))
      return undefined
    }
    // Stored already: the batch was in flight when it was spooled, and its answer came back.
    if (record.sequence <= this.#ledger.storedThrough) return undefined
    const signal = this.#requests.signal
    let stored: number | undefined = record.sequence
    try {
      await sendSpoolRecord(this.#client, record, { signal })
    } catch (cause) {
      if (signal.aborted) return 'stop'
      const error = toRequestError(cause, this.#client.url)
      if (isRetryable(error)) {
        this.#probeFailures++
        if (this.#probeFailures >= this.#options.policy.attempts && !this.#outage.isParked) this.#outage.park(error)
        return 'stop'
      }
      // Refused for good, as it would have been if sent directly: report it and go on.
      stored = undefined
      this.#ledger.markLost(record.sequence, error)
      this.#options.report(error)
    }
    this.#probeFailures = 0
    this.#outage.unpark()
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
    this.#outage.unpark()
    this.#probeFailures = 0
    return true
  }

  async #replayEarlierSpools(): Promise<void> {
    const { client, spoolDir, runId, policy } = this.#options
    try {
      const result = await replaySpool({
        client,
        spoolDir,
        runId,
        retry: policy,
        onWarning: (message) => this.#options.report(new WharfError('INTERNAL', message)),
      })
      for (const failure of result.failed) {
        this.#options.report(
          new WharfError(
            failure.error.code,
            `could not replay the spool file ${failure.file} of run "${printable(runId)}": ${failure.error.message}; it is kept for \`wharf sync\``,
            { cause: failure.error },
          ),
        )
      }
    } catch (error) {
      this.#options.report(toInternal(error, `could not replay the spool files in ${spoolDir}`))
    }
  }
}
