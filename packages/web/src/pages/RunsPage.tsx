import { useCallback, useEffect, useMemo, useState } from 'react'
import { Link, useLocation, useNavigate, useParams, useSearchParams } from 'react-router'
import type { RunStatus } from '@wharf/contract'
import { useApiQuery } from '../api/hooks.js'
import { useSession } from '../api/session.js'
import { paths } from '../app/paths.js'
import { Empty, ErrorState, Loading } from '../components/States.js'
import { RunsFilters } from './runs/RunsFilters.js'
import { RunsTable, type RowContext } from './runs/RunsTable.js'
import {
  countChildren,
  metricNames,
  readView,
  visibleRuns,
  writeView,
  type Lineage,
  type SortKey,
  type TableView,
} from './runs/table-view.js'
import { useExperimentRuns } from './runs/use-experiment-runs.js'
import './runs/runs.css'
import { usePageTitle } from '../components/page-title.js'

/** The time now, ticking every `periodMs` while given (live durations), still otherwise. */
function useNow(periodMs: number | undefined): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (periodMs === undefined) return
    const timer = setInterval(() => setNow(Date.now()), periodMs)
    return () => clearInterval(timer)
  }, [periodMs])
  return now
}

const count = new Intl.NumberFormat()

/** The first sort order of a column: newest, longest and largest first; names, statuses and tags A to Z. */
function firstOrder(key: SortKey): 'asc' | 'desc' {
  return key === 'name' || key === 'status' || key === 'tags' ? 'asc' : 'desc'
}

/**
 * The runs of one experiment: a virtualised table with a column per metric, sorted and filtered as
 * the URL says (so a link or Back brings the same view), live while a run is, and a selection to compare.
 */
export function RunsPage() {
  const { experiment = '' } = useParams()
  usePageTitle(experiment)
  const { workspace } = useSession()
  const navigate = useNavigate()
  const location = useLocation()
  const [search, setSearch] = useSearchParams()
  const view = useMemo(() => readView(search), [search])
  const data = useExperimentRuns(experiment)
  // Whether the experiment exists: an address with a typo says so rather than showing an empty table.
  const known = useApiQuery(['experiment', experiment], (client, signal) => client.getExperiment(experiment, { signal }))
  const now = useNow(data.hasLive ? 1000 : undefined)

  const update = useCallback(
    (patch: Partial<TableView>, options: { replace?: boolean } = {}) =>
      setSearch((previous) => writeView({ ...readView(previous), ...patch }), { replace: options.replace ?? false }),
    [setSearch],
  )

  const all = data.runs
  const shown = useMemo(
    () => visibleRuns(all.values(), view),
    // `now` only matters when sorting by duration: re-sorting every second otherwise would be wasted work.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [all, view, view.sort === 'duration' ? now : 0],
  )
  const metrics = useMemo(() => metricNames(all.values()), [all])
  const childCounts = useMemo(() => countChildren(all.values()), [all])
  const statusCounts = useMemo(() => {
    const counts = new Map<RunStatus, number>()
    for (const run of all.values()) counts.set(run.status, (counts.get(run.status) ?? 0) + 1)
    return counts
  }, [all])
  const selected = useMemo(() => new Set(view.selected), [view.selected])

  const context: RowContext = useMemo(
    () => ({
      workspace,
      metrics,
      now,
      childCounts,
      onToggle: (runId) =>
        setSearch(
          (previous) => {
            const current = readView(previous)
            const ids = current.selected.includes(runId)
              ? current.selected.filter((id) => id !== runId)
              : [...current.selected, runId]
            return writeView({ ...current, selected: ids })
          },
          { replace: true },
        ),
      onShowChildren: (runId) => update({ lineage: { kind: 'childrenOf', parentId: runId } }),
      onTagFilter: (filter) =>
        setSearch((previous) => {
          const current = readView(previous)
          return writeView({ ...current, tags: current.tags.includes(filter) ? current.tags : [...current.tags, filter] })
        }),
    }),
    [workspace, metrics, now, childCounts, setSearch, update],
  )

  if (known.isError) {
    return <ErrorState error={known.error} what={`experiment "${experiment}"`} retry={() => void known.refetch()} />
  }
  const firstLoad = !data.complete
  if (data.error !== undefined && all.size === 0) {
    return <ErrorState error={data.error} what={`the runs of experiment "${experiment}"`} retry={data.retry} />
  }
  const onSort = (key: SortKey) =>
    update({ sort: key, order: key === view.sort ? (view.order === 'asc' ? 'desc' : 'asc') : firstOrder(key) })
  const parentName = view.lineage.kind === 'childrenOf' ? all.get(view.lineage.parentId)?.displayName : undefined
  const summary = `${count.format(shown.length)} of ${count.format(all.size)} runs shown`

  return (
    <section className="runs-page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.experiments(workspace)}>Experiments</Link> / <span>{experiment}</span>
      </nav>
      <header className="page-header">
        <h1>{experiment}</h1>
        <div className="runs-summary">
          {firstLoad ? (
            <span role="status" className="loading-progress">
              <span className="spinner" aria-hidden="true" /> Loading runs… {count.format(all.size)} so far
            </span>
          ) : (
            <span className="muted" data-testid="runs-count">
              {summary}
              {data.hasLive && <span className="live-note"> · following live runs</span>}
            </span>
          )}
        </div>
      </header>
      {data.error !== undefined && all.size > 0 && (
        <p className="state-inline-error" role="alert">
          {firstLoad ? 'Loading the rest of the runs failed' : 'The latest refresh failed'} (
          {data.error instanceof Error ? data.error.message : 'unknown error'}).{' '}
          {firstLoad ? (
            <button type="button" className="btn" onClick={data.retry}>
              Load them again
            </button>
          ) : (
            'The table may be behind; it tries again on its own.'
          )}
        </p>
      )}
      {(firstLoad || known.isPending) && all.size === 0 ? (
        <Loading what={`the runs of experiment "${experiment}"`} />
      ) : all.size === 0 ? (
        <Empty title={`Experiment "${experiment}" has no runs yet.`}>
          Log one with the SDK (<code>getLogger().log('loss', 0.3)</code> with <code>WHARF_EXPERIMENT={experiment}</code>) or{' '}
          <code>npx wharf run submit --experiment {experiment} …</code>; it shows here on its own.
        </Empty>
      ) : (
        <>
          <RunsFilters
            view={view}
            statusCounts={statusCounts}
            hasChildRuns={childCounts.size > 0}
            parentName={parentName}
            onText={(text) => update({ text }, { replace: true })}
            onStatuses={(statuses) => update({ statuses })}
            onTags={(tags) => update({ tags })}
            onLineage={(lineage: Lineage) => update({ lineage })}
            onClear={() => update({ text: '', statuses: [], tags: [], lineage: { kind: 'roots' } })}
          />
          <div className="selection-bar" aria-label="Selection">
            <button
              type="button"
              className="btn btn-primary"
              disabled={view.selected.length < 2}
              onClick={() => void navigate(paths.compare(workspace, view.selected))}
              title={view.selected.length < 2 ? 'Select two or more runs with the boxes in the first column' : undefined}
            >
              Compare ({view.selected.length})
            </button>
            {view.selected.length > 0 && (
              <button type="button" className="btn" onClick={() => update({ selected: [] }, { replace: true })}>
                Clear selection
              </button>
            )}
            {view.selected.length < 2 && <span className="muted">Tick two or more runs to compare them.</span>}
          </div>
          {shown.length === 0 ? (
            <Empty title="No run matches these filters.">
              <button
                type="button"
                className="btn"
                onClick={() => update({ text: '', statuses: [], tags: [], lineage: { kind: 'roots' } })}
              >
                Clear filters
              </button>
            </Empty>
          ) : (
            <RunsTable
              runs={shown}
              selected={selected}
              sort={view.sort}
              order={view.order}
              onSort={onSort}
              context={context}
              caption={`Runs of experiment ${experiment}: ${summary}`}
              historyKey={`${location.key} ${experiment}`}
              viewKey={writeView({ ...view, selected: [] }).toString()}
            />
          )}
        </>
      )}
    </section>
  )
}
