import type { WharfClient } from '@wharf/client'
import { isTerminalStatus, type Heartbeat } from '@wharf/contract'

/** Options for {@link startHeartbeat}. */
export interface HeartbeatOptions {
  client: WharfClient
  runId: string
  /** Time between beats. Default 1 s. */
  intervalMs?: number
  /** Called once, when an answer says a cancel was asked (or the run already ended on the server). */
  onCancel: () => void
  /** Hears a beat that failed; the next beat is tried anyway. */
  onError?: (error: unknown) => void
}

/** A running heartbeat; `stop` ends it and resolves once no beat is in flight. */
export interface HeartbeatLoop {
  stop(): Promise<void>
}

/**
 * Tells the server every `intervalMs` that the runner lives, and hears whether someone asked to cancel
 * the run. A failed beat (server restarting) is not fatal: the next one is tried on time.
 */
export function startHeartbeat(options: HeartbeatOptions): HeartbeatLoop {
  const interval = options.intervalMs ?? 1000
  let stopped = false
  let canceled = false
  let wake: (() => void) | undefined
  const beat = async (): Promise<void> => {
    const answer: Heartbeat = await options.client.call('runHeartbeat', {
      params: { runId: options.runId },
      // A hung server must not hold up the next beat for the client's whole timeout.
      signal: AbortSignal.timeout(Math.max(interval * 5, 5000)),
    })
    if (!canceled && (answer.cancelRequested || isTerminalStatus(answer.status))) {
      canceled = true
      options.onCancel()
    }
  }
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now()
      try {
        await beat()
      } catch (error) {
        options.onError?.(error)
      }
      const wait = Math.max(0, interval - (Date.now() - started))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })()
  return {
    async stop() {
      stopped = true
      wake?.()
      await loop
    },
  }
}
