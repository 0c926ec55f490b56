import { useCallback, useEffect, useMemo, useRef } from 'react'
import { Link, useSearchParams } from 'react-router'
import { isTerminalStatus, type MetricSummary, type Run } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery } from '../api/hooks.js'
import { useSession } from '../api/session.js'
import { paths } from '../app/paths.js'
import { ChartToolbar } from '../charts/ChartToolbar.js'
import { MetricChart, type ChartSource } from '../charts/MetricChart.js'
import { readAxis, readRange, withView, type Axis, type XRange } from '../charts/chart-data.js'
import { seriesColour, useChartTheme } from '../charts/theme.js'
import { formatValue } from '../components/format.js'
import { Empty, ErrorState, Loading } from '../components/States.js'
import { StatusBadge } from '../components/StatusBadge.js'
import './compare.css'

/** A run with its metric summaries, as the compare page shows it. */
interface ComparedRun {
  run: Run
  metrics: MetricSummary[]
}

/** One row of the differences table: what it is, and each run's value (undefined: the run has none). */
interface DiffRow {
  group: 'tag' | 'property' | 'metric'
  key: string
  values: (string | undefined)[]
}

function diffRows(runs: readonly ComparedRun[]): DiffRow[] {
  const rows: DiffRow[] = []
  const collect = (group: DiffRow['group'], read: (r: ComparedRun) => Record<string, string>) => {
    const maps = runs.map(read)
    const keys = [...new Set(maps.flatMap((m) => Object.keys(m)))].sort()
    for (const key of keys) rows.push({ group, key, values: maps.map((m) => m[key]) })
  }
  collect('tag', (r) => r.run.tags)
  collect('property', (r) => r.run.properties)
  collect('metric', (r) => Object.fromEntries(r.metrics.map((m) => [m.name, formatValue(m.last)])))
  return rows
}

function differs(row: DiffRow): boolean {
  return row.values.some((v) => v !== row.values[0])
}

/**
 * Two or more runs side by side (`?run=a&run=b…`): one chart per metric with a line per run, and a
 * table of the tags, properties and last metric values that differ (or all of them). Axis, zoom and
 * the table's toggle are in the URL; removing a run rewrites it. Live runs are followed as they log.
 */
export function ComparePage() {
  const { workspace } = useSession()
  const theme = useChartTheme()
  const [search, setSearch] = useSearchParams()
  const runIds = useMemo(() => [...new Set(search.getAll('run'))], [search])
  const axis = readAxis(search)
  const range = readRange(search)
  const showAll = search.get('rows') === 'all'
  const compared = useApiQuery(
    ['compare', runIds],
    (client, signal) =>
      Promise.all(
        runIds.map(async (id): Promise<ComparedRun> => {
          const [run, metrics] = await Promise.all([client.getRun(id, { signal }), client.listMetrics(id, { signal })])
          return { run, metrics }
        }),
      ),
    // While any run is live its status, summaries and charts follow it; polling stops once all have ended.
    {
      refetchInterval: (data) => (data === undefined || data.some((r) => !isTerminalStatus(r.run.status)) ? LIVE_POLL_MS : false),
    },
  )
  const live = compared.data?.some((r) => !isTerminalStatus(r.run.status)) ?? false
  // The last live run just ended: one more read, so the points it logged before the end are drawn.
  const { refetch } = compared
  const wasLive = useRef(false)
  useEffect(() => {
    if (live) wasLive.current = true
    else if (wasLive.current) {
      wasLive.current = false
      void refetch()
    }
  }, [live, refetch])
  const setView = useCallback(
    (view: { axis: Axis; range: XRange | undefined }) => setSearch((current) => withView(current, view)),
    [setSearch],
  )
  const onRange = useCallback((next: XRange | undefined) => setView({ axis, range: next }), [setView, axis])
  const removeRun = (id: string) =>
    setSearch((current) => {
      const next = new URLSearchParams(current)
      next.delete('run')
      for (const other of runIds) if (other !== id) next.append('run', other)
      return next
    })
  const toggleRows = () =>
    setSearch((current) => {
      const next = new URLSearchParams(current)
      if (showAll) next.delete('rows')
      else next.set('rows', 'all')
      return next
    })

  if (runIds.length === 0) {
    return (
      <Empty title="No runs to compare yet.">
        Open <Link to={paths.experiments(workspace)}>an experiment</Link>, tick two or more runs in its table and choose Compare;
        or add <code>?run=&lt;id&gt;&amp;run=&lt;id&gt;</code> to this address.
      </Empty>
    )
  }
  if (compared.isPending) return <Loading what={`${runIds.length} runs to compare`} />
  if (compared.isError)
    return <ErrorState error={compared.error} what="the runs to compare" retry={() => void compared.refetch()} />

  const runs = compared.data
  const labels = runs.map((r) => r.run.displayName)
  const metricNames = [...new Set(runs.flatMap((r) => r.metrics.filter((m) => m.kind !== 'text').map((m) => m.name)))].sort()
  const rows = diffRows(runs)
  const shown = showAll ? rows : rows.filter(differs)
  return (
    <article className="compare-page">
      <header className="page-header">
        <h1>Compare {runs.length} runs</h1>
      </header>
      {runs.length < 2 && (
        <p className="muted">Add another run to compare with: tick it in its experiment's runs table and choose Compare.</p>
      )}
      <ul className="compare-legend" aria-label="Runs compared">
        {runs.map(({ run }, i) => (
          <li key={run.id}>
            <span className="swatch" style={{ background: seriesColour(theme, i) }} aria-hidden="true" />
            <Link to={paths.run(workspace, run.id)}>{run.displayName}</Link> <StatusBadge status={run.status} />{' '}
            <span className="muted">{run.experiment}</span>
            <button
              type="button"
              className="btn btn-small"
              onClick={() => removeRun(run.id)}
              aria-label={`Remove ${run.displayName} from the comparison`}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>

      <h2>Differences</h2>
      <div className="toolbar">
        <label className="toggle">
          <input type="checkbox" checked={showAll} onChange={toggleRows} /> Show rows that are the same too
        </label>
        <span className="muted">
          {rows.filter(differs).length} of {rows.length} tags, properties and last metric values differ
        </span>
      </div>
      {shown.length === 0 ? (
        <Empty title={rows.length === 0 ? 'These runs have no tags, properties or metrics.' : 'No differences.'}>
          {rows.length > 0 && 'Every tag, property and last metric value is the same; tick the box above to see them.'}
        </Empty>
      ) : (
        <div className="table-scroll compare-table">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                {labels.map((label, i) => (
                  <th scope="col" key={runs[i]?.run.id ?? i}>
                    {label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row) => (
                <tr key={`${row.group}:${row.key}`} className={differs(row) ? 'differs' : undefined}>
                  <td className="muted">{row.group}</td>
                  <th scope="row">{row.key}</th>
                  {row.values.map((value, i) => (
                    <td key={runs[i]?.run.id ?? i} className={row.group === 'metric' ? 'num' : undefined}>
                      {value ?? <span className="muted">—</span>}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Metrics</h2>
      {metricNames.length === 0 ? (
        <Empty title="None of these runs logged a numeric metric.">Charts appear here once they log one (run.log).</Empty>
      ) : (
        <>
          <ChartToolbar axis={axis} range={range} onView={setView} live={live} />
          <div className="chart-grid">
            {metricNames.map((name, order) => {
              const having = runs
                .map((r, i) => ({ r, i, summary: r.metrics.find((m) => m.name === name) }))
                .filter((x) => x.summary !== undefined)
              const sources: ChartSource[] = having.map(({ r, i }) => ({ runId: r.run.id, label: r.run.displayName, colour: i }))
              const lastSteps = new Map(having.map(({ r, summary }) => [r.run.id, summary?.lastStep ?? 0]))
              const toStep = Math.max(...lastSteps.values())
              return (
                <section className="chart-card" key={name} aria-label={`Metric ${name}`}>
                  <h3>{name}</h3>
                  <MetricChart
                    metric={name}
                    sources={sources}
                    axis={axis}
                    range={range}
                    onRange={onRange}
                    order={order}
                    lastSteps={lastSteps}
                    ended={!live}
                    // A live run's axis grows with each poll: aligned to the longest run once all have ended,
                    // so live rounds append points rather than read every run's buckets again.
                    toStep={live ? undefined : toStep}
                  />
                </section>
              )
            })}
          </div>
        </>
      )}
    </article>
  )
}
