/** A run's lifecycle, in order. A run moves forward only; the last three are terminal. */
export const RUN_STATUSES = [
  'NotStarted',
  'Queued',
  'Preparing',
  'Running',
  'Finalizing',
  'Completed',
  'Failed',
  'Canceled',
] as const

/** One status of a run's lifecycle. */
export type RunStatus = (typeof RUN_STATUSES)[number]

/** Statuses a run never leaves. */
export const TERMINAL_STATUSES = ['Completed', 'Failed', 'Canceled'] as const satisfies readonly RunStatus[]

/** True when a run in `status` has finished and can no longer change. */
export function isTerminalStatus(status: RunStatus): boolean {
  return (TERMINAL_STATUSES as readonly RunStatus[]).includes(status)
}

const ORDER: Record<RunStatus, number> = Object.fromEntries(RUN_STATUSES.map((s, i) => [s, i])) as Record<RunStatus, number>

/**
 * Whether a run may move from `from` to `to`. Forward moves may skip stages (an interactive run goes
 * straight from NotStarted to Running); Failed and Canceled are reachable from any live status;
 * Completed only from Running or Finalizing; nothing leaves a terminal status; staying put is allowed
 * so that a retried request is harmless.
 */
export function canTransition(from: RunStatus, to: RunStatus): boolean {
  if (from === to) return true
  if (isTerminalStatus(from)) return false
  switch (to) {
    case 'Failed':
    case 'Canceled':
      return true
    case 'Completed':
      return from === 'Running' || from === 'Finalizing'
    case 'NotStarted':
    case 'Queued':
    case 'Preparing':
    case 'Running':
    case 'Finalizing':
      return ORDER[to] > ORDER[from]
  }
}
