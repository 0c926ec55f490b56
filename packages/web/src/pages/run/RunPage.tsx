import { useEffect } from 'react'
import { Link, useParams, useSearchParams } from 'react-router'
import { isTerminalStatus } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery, useReadAhead } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'
import { paths, type RunTab } from '../../app/paths.js'
import { ErrorState, Loading } from '../../components/States.js'
import { StatusBadge } from '../../components/StatusBadge.js'
import { usePageTitle } from '../../components/page-title.js'
import { ArtifactsTab } from './ArtifactsTab.js'
import { CancelRun } from './CancelRun.js'
import { LogsTab } from './LogsTab.js'
import { MetricsTab } from './MetricsTab.js'
import { OverviewTab } from './OverviewTab.js'
import { SnapshotPanel } from './SnapshotPanel.js'
import './run.css'

const TABS: { id: RunTab; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'metrics', label: 'Metrics' },
  { id: 'artifacts', label: 'Artifacts' },
  { id: 'logs', label: 'Logs' },
]

function isRunTab(value: string | null): value is RunTab {
  return TABS.some((tab) => tab.id === value)
}

/** One run: its header (name, status, experiment) and the tab in the URL (`?tab=`). */
export function RunPage() {
  const { runId = '' } = useParams()
  const { workspace } = useSession()
  const [search, setSearch] = useSearchParams()
  const requested = search.get('tab')
  const tab: RunTab = isRunTab(requested) ? requested : 'overview'
  const isSnapshotOpen = search.get('snapshot') === '1'
  const run = useApiQuery(['run', runId], (client, signal) => client.getRun(runId, { signal }), {
    // A live run is re-read so its status, times and error follow along.
    refetchInterval: (current) => (current === undefined || !isTerminalStatus(current.status) ? LIVE_POLL_MS : false),
  })
  usePageTitle(run.data === undefined ? runId : `${run.data.displayName} (${run.data.status})`)
  // The metrics tab's first read goes out with the run's, not after it (one round trip less to the first chart).
  const readAhead = useReadAhead()
  useEffect(() => {
    if (tab === 'metrics') void readAhead(['metrics', runId], (client, signal) => client.listMetrics(runId, { signal }))
  }, [tab, runId, readAhead])
  if (run.isPending) return <Loading what={`run ${runId}`} />
  if (run.isError) return <ErrorState error={run.error} what={`run ${runId}`} retry={() => void run.refetch()} />
  const data = run.data
  return (
    <article className="run-page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.experiments(workspace)}>Experiments</Link> /{' '}
        <Link to={paths.runs(workspace, data.experiment)}>{data.experiment}</Link> / <span>{data.displayName}</span>
      </nav>
      <header className="page-header">
        <h1>
          {data.displayName} <StatusBadge status={data.status} />
        </h1>
        <span className="muted mono">{data.id}</span>
      </header>
      <div className="toolbar run-actions">
        <CancelRun run={data} onChanged={() => void run.refetch()} />
        {data.snapshotId !== null && (
          <button
            type="button"
            className="btn"
            aria-expanded={isSnapshotOpen}
            aria-controls="run-snapshot"
            onClick={() =>
              setSearch((current) => {
                const next = new URLSearchParams(current)
                if (isSnapshotOpen) next.delete('snapshot')
                else next.set('snapshot', '1')
                return next
              })
            }
          >
            {isSnapshotOpen ? 'Hide source snapshot' : 'Source snapshot'}
          </button>
        )}
      </div>
      {isSnapshotOpen && data.snapshotId !== null && (
        <div id="run-snapshot">
          <SnapshotPanel run={{ ...data, snapshotId: data.snapshotId }} />
        </div>
      )}
      <nav className="tabs" role="tablist" aria-label="Run sections">
        {TABS.map((t) => (
          <Link
            key={t.id}
            role="tab"
            aria-selected={t.id === tab}
            className={t.id === tab ? 'tab active' : 'tab'}
            to={paths.run(workspace, data.id, t.id)}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      <section role="tabpanel" className="tab-panel">
        {tab === 'overview' && <OverviewTab run={data} />}
        {tab === 'metrics' && <MetricsTab run={data} />}
        {tab === 'artifacts' && <ArtifactsTab run={data} />}
        {tab === 'logs' && <LogsTab run={data} />}
      </section>
    </article>
  )
}
