import type { RunStatus } from '@wharf/contract'
import { isTerminalStatus } from '@wharf/contract'

/** A run's status as a coloured badge; live statuses pulse. */
export function StatusBadge(props: { status: RunStatus }) {
  const live = !isTerminalStatus(props.status)
  return (
    <span className={`badge status status-${props.status}${live ? ' live' : ''}`} data-status={props.status}>
      {props.status}
    </span>
  )
}
