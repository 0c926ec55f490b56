import { useEffect, useRef, useState } from 'react'
import { useSearchParams } from 'react-router'
import { isTerminalStatus, type Run } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'
import { formatBytes, formatTime } from '../../components/format.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { readWholeLog, useLogTail } from './use-log-tail.js'
import './run.css'

/** The log shown when the URL names none: the script's own output. */
const STD_LOG = 'std_log.txt'

/**
 * A submitted run's live logs: the one in `?log=` (the script's output by default) followed while the
 * run is live, with a follow-tail switch (`?follow=off` turns it off) and a download of the whole log.
 */
export function LogsTab(props: { run: Run }) {
  const { run } = props
  const [search, setSearch] = useSearchParams()
  const live = !isTerminalStatus(run.status)
  const logs = useApiQuery(
    ['run-logs', run.id],
    (client, signal) => client.call('listRunLogs', { params: { runId: run.id }, signal }),
    {
      // A live run's runner may start a log later: the list is read again until the run ends.
      refetchInterval: live ? LIVE_POLL_MS : false,
    },
  )
  if (logs.isPending) return <Loading what={`the logs of ${run.displayName}`} />
  if (logs.isError)
    return <ErrorState error={logs.error} what={`the logs of ${run.displayName}`} retry={() => void logs.refetch()} />
  const items = logs.data.items
  if (items.length === 0)
    return (
      <Empty title={live ? 'No logs yet.' : 'This run has no live logs.'}>
        {run.definition === null
          ? 'Live logs are written by the runner of a submitted run (wharf run submit). A run logged from a script keeps its log files, if any, among its artifacts.'
          : 'The runner writes the script’s output here as soon as the script starts; this page follows along.'}
      </Empty>
    )
  const requested = search.get('log')
  const fallback = items.find((l) => l.name === STD_LOG)?.name ?? items[0]?.name ?? STD_LOG
  const log = requested !== null && items.some((l) => l.name === requested) ? requested : fallback
  const isFollowing = search.get('follow') !== 'off'
  const set = (key: string, value: string | undefined) =>
    setSearch((current) => {
      const next = new URLSearchParams(current)
      if (value === undefined) next.delete(key)
      else next.set(key, value)
      return next
    })
  const summary = items.find((l) => l.name === log)
  return (
    <div className="logs-tab">
      <div className="toolbar">
        {items.length > 1 && (
          <label className="run-inline-field">
            <span>Log</span>
            <select name="log" value={log} onChange={(e) => set('log', e.target.value === STD_LOG ? undefined : e.target.value)}>
              {items.map((l) => (
                <option key={l.name} value={l.name}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
        )}
        {items.length === 1 && <span className="mono">{log}</span>}
        <label className="run-inline-field">
          <input
            type="checkbox"
            name="follow"
            checked={isFollowing}
            onChange={(e) => set('follow', e.target.checked ? undefined : 'off')}
          />
          <span>Follow the end</span>
        </label>
        <LogDownload runId={run.id} log={log} />
        {summary !== undefined && <span className="muted">last written {formatTime(summary.updatedAt)}</span>}
      </div>
      <LogView key={log} runId={run.id} log={log} isFollowing={isFollowing} />
    </div>
  )
}

function LogView(props: { runId: string; log: string; isFollowing: boolean }) {
  const tail = useLogTail({ runId: props.runId, log: props.log })
  const viewRef = useRef<HTMLPreElement>(null)
  useEffect(() => {
    const view = viewRef.current
    if (props.isFollowing && view !== null) view.scrollTop = view.scrollHeight
  }, [tail.text, props.isFollowing])
  if (tail.loading) return <Loading what={`the log ${props.log}`} />
  return (
    <>
      {tail.dropped > 0 && (
        <p className="run-note" role="note">
          The first {tail.dropped.toLocaleString()} characters are not shown, to keep the page light; download the log for all of
          it.
        </p>
      )}
      <pre ref={viewRef} className="log-view" tabIndex={0} aria-label={`Log ${props.log}`} aria-live="off">
        {tail.text === '' ? <span className="muted">(nothing written yet)</span> : tail.text}
      </pre>
      <p className="log-status muted">
        {/* The live region changes with the state only, not with every byte that arrives. */}
        <span role="status">
          {tail.error !== undefined
            ? `Reading the log failed (${tail.error}); trying again…`
            : tail.ended
              ? 'The run has ended: this is the whole log.'
              : 'Following the live log…'}
        </span>{' '}
        {formatBytes(tail.offset)} read.
      </p>
    </>
  )
}

/** Downloads the whole log as a text file (read through the API, so it works with a token and while the run is live). */
function LogDownload(props: { runId: string; log: string }) {
  const { client } = useSession()
  const [state, setState] = useState<{ busy: boolean; error?: string }>({ busy: false })
  const download = () => {
    setState({ busy: true })
    readWholeLog({ client, runId: props.runId, log: props.log })
      .then((text) => {
        const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }))
        const a = document.createElement('a')
        a.href = url
        a.download = `${props.runId}-${props.log}`
        a.click()
        setTimeout(() => URL.revokeObjectURL(url), 60_000)
        setState({ busy: false })
      })
      .catch((error: unknown) => setState({ busy: false, error: error instanceof Error ? error.message : String(error) }))
  }
  return (
    <>
      <button type="button" className="btn" onClick={download} disabled={state.busy}>
        {state.busy ? 'Preparing…' : 'Download log'}
      </button>
      {state.error !== undefined && (
        <span className="field-error" role="alert">
          The download failed: {state.error}. Try again.
        </span>
      )}
    </>
  )
}
