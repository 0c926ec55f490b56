import { useCallback, useEffect, useMemo } from 'react'
import { useSearchParams } from 'react-router'
import { isTerminalStatus, type MetricSummary, type Run } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery } from '../../api/hooks.js'
import { MetricChart } from '../../charts/MetricChart.js'
import { ChartToolbar } from '../../charts/ChartToolbar.js'
import { readAxis, readRange, withView, type XRange } from '../../charts/chart-data.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { formatValue } from '../../components/format.js'
import { TextMetricTable } from './TextMetricTable.js'
import './metrics.css'

/**
 * The run's metrics: a chart per numeric metric (lists logged with logList are consecutive points, so
 * they chart too), a paged table per text metric. The axis and the zoom are in the URL; while the run
 * is live the summaries are polled and charts append what is new.
 */
export function MetricsTab(props: { run: Run }) {
  const { run } = props
  const live = !isTerminalStatus(run.status)
  const [search, setSearch] = useSearchParams()
  const axis = readAxis(search)
  const range = readRange(search)
  const metrics = useApiQuery(['metrics', run.id], (client, signal) => client.listMetrics(run.id, { signal }), {
    refetchInterval: live ? LIVE_POLL_MS : false,
  })
  // The run just ended: one more read, so the last points logged before the end are drawn.
  const { refetch } = metrics
  useEffect(() => {
    if (!live) void refetch()
  }, [live, refetch])

  const setView = useCallback(
    (view: { axis: typeof axis; range: XRange | undefined }) => setSearch((current) => withView(current, view)),
    [setSearch],
  )
  const onRange = useCallback((next: XRange | undefined) => setView({ axis, range: next }), [setView, axis])

  if (metrics.isPending) return <Loading what={`the metrics of ${run.displayName}`} />
  if (metrics.isError)
    return <ErrorState error={metrics.error} what={`the metrics of ${run.displayName}`} retry={() => void refetch()} />
  const all = metrics.data
  if (all.length === 0) {
    return (
      <Empty
        title={live ? 'No metrics logged yet; charts appear here as soon as this run logs one.' : 'This run logged no metrics.'}
      >
        <p>Log a metric from the run's script with the SDK, for example:</p>
        <pre className="metrics-snippet">{`const run = await workspace.experiment('${run.experiment}').startLogging()
run.log('loss', 0.42)          // one point; the step counts up by itself
run.logList('accuracy', [0.8, 0.85, 0.9])  // a list: consecutive points`}</pre>
      </Empty>
    )
  }
  const charted = all.filter((m) => m.kind !== 'text')
  const texts = all.filter((m) => m.kind !== 'number')
  return (
    <div className="metrics-tab">
      <ChartToolbar axis={axis} range={range} onView={setView} live={live} />
      {charted.length > 0 && (
        <div className="chart-grid">
          {charted.map((summary, order) => (
            <MetricCard
              key={summary.name}
              runId={run.id}
              summary={summary}
              live={live}
              view={{ axis, range, onRange }}
              order={order}
            />
          ))}
        </div>
      )}
      {texts.length > 0 && (
        <section aria-labelledby="text-metrics-title">
          <h2 id="text-metrics-title">Text metrics</h2>
          {texts.map((summary) => (
            <TextMetricTable key={summary.name} runId={run.id} summary={summary} live={live} />
          ))}
        </section>
      )}
    </div>
  )
}

/** One numeric metric: its name, last value and point count, and its chart. */
function MetricCard(props: {
  runId: string
  summary: MetricSummary
  live: boolean
  order: number
  view: { axis: ReturnType<typeof readAxis>; range: XRange | undefined; onRange: (range: XRange | undefined) => void }
}) {
  const { runId, summary, live, order, view } = props
  const sources = useMemo(() => [{ runId, label: summary.name }], [runId, summary.name])
  const lastSteps = useMemo(() => new Map([[runId, summary.lastStep]]), [runId, summary.lastStep])
  return (
    <section className="chart-card" aria-label={`Metric ${summary.name}`}>
      <h3>{summary.name}</h3>
      <p className="metric-summary muted">
        last <span className="mono metric-last">{formatValue(summary.last)}</span> at step {summary.lastStep} ·{' '}
        <span className="metric-count">{summary.count.toLocaleString()}</span> points
        {summary.kind === 'mixed' && ' · also has text points (listed under Text metrics)'}
      </p>
      <MetricChart
        metric={summary.name}
        sources={sources}
        axis={view.axis}
        range={view.range}
        onRange={view.onRange}
        order={order}
        lastSteps={lastSteps}
        ended={!live}
      />
    </section>
  )
}
