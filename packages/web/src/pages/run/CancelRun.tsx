import { useState } from 'react'
import { isTerminalStatus, type Run } from '@wharf/contract'
import { useSession } from '../../api/session.js'
import { formatTime } from '../../components/format.js'

/**
 * Cancels a live run after a confirm step. A run with a runner is stopped by it (SIGTERM, then
 * SIGKILL) and ends Canceled shortly after; a run no runner holds ends Canceled at once. `onChanged`
 * re-reads the run (the page polls it while it is live, so the status follows).
 */
export function CancelRun(props: { run: Run; onChanged: () => void }) {
  const { run, onChanged } = props
  const { client } = useSession()
  const [isConfirming, setConfirming] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>()
  if (isTerminalStatus(run.status)) return null
  if (run.cancelRequestedAt !== null)
    return (
      <span className="cancel-pending muted" role="status">
        Cancel asked at {formatTime(run.cancelRequestedAt)}; waiting for the runner to stop the script…
      </span>
    )
  const cancel = () => {
    setBusy(true)
    setError(undefined)
    client
      .call('cancelRun', { params: { runId: run.id } })
      .then(() => {
        setConfirming(false)
        onChanged()
      })
      .catch((failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)))
      .finally(() => setBusy(false))
  }
  if (!isConfirming)
    return (
      <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)}>
        Cancel run
      </button>
    )
  return (
    <div className="cancel-confirm" role="group" aria-label="Confirm cancel">
      <span>
        {run.heartbeatAt !== null
          ? 'Stop the script (its runner sends SIGTERM, then SIGKILL) and end this run Canceled? Its logs and outputs so far are kept.'
          : 'No runner holds this run, so it ends Canceled at once. A script logging to it is not stopped, but can no longer change its status.'}
      </span>
      <button type="button" className="btn btn-danger" onClick={cancel} disabled={busy}>
        {busy ? 'Canceling…' : 'Yes, cancel the run'}
      </button>
      <button type="button" className="btn" onClick={() => setConfirming(false)} disabled={busy}>
        Keep it running
      </button>
      {error !== undefined && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  )
}
