import type { MetadataStore } from '@wharf/store'
import type { Log } from './log.js'

/** A running heartbeat watchdog. */
export interface Watchdog {
  /** Stops the timer and waits for a sweep in progress. Idempotent. */
  stop(): Promise<void>
}

/**
 * Every `intervalMs`, fails the runs whose runner has not reported for `timeoutMs` (RUNNER_LOST). Each
 * replica runs one: the store's conditional update lets sweeps overlap harmlessly. A failed sweep (the
 * database away for a moment) is logged and the next one tries again.
 */
export function startWatchdog(options: { store: MetadataStore; log: Log; timeoutMs: number; intervalMs: number }): Watchdog {
  const { store, log, timeoutMs, intervalMs } = options
  let running: Promise<void> | undefined
  let stopped = false
  const sweep = async (): Promise<void> => {
    const now = Date.now()
    try {
      const failed = await store.failSilentRuns({
        heartbeatBefore: new Date(now - timeoutMs).toISOString(),
        at: new Date(now).toISOString(),
      })
      for (const runId of failed) log.warn('run failed: its runner stopped reporting', { runId, timeoutMs })
    } catch (error) {
      log.warn('the heartbeat watchdog could not check runs; it tries again', { error })
    }
  }
  const timer = setInterval(() => {
    if (stopped || running !== undefined) return
    running = sweep().finally(() => (running = undefined))
  }, intervalMs)
  timer.unref()
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
