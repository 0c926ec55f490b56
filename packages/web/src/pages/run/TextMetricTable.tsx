import { useSearchParams } from 'react-router'
import type { MetricSummary } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery } from '../../api/hooks.js'
import { formatValue } from '../../components/format.js'
import { ErrorState, Loading } from '../../components/States.js'

const PAGE_SIZE = 50

/** The URL parameter holding the first step shown of a text metric's table. */
function pageParam(name: string): string {
  return `text.${name}`
}

/**
 * A text metric (or a mixed one's points) as a table of step, time and value, `PAGE_SIZE` rows a
 * page; the page (its first step) is in the URL, so Back returns to the previous one.
 */
export function TextMetricTable(props: { runId: string; summary: MetricSummary; live: boolean }) {
  const { runId, summary, live } = props
  const { name } = summary
  const [search, setSearch] = useSearchParams()
  const fromStep = Math.max(0, Math.floor(Number(search.get(pageParam(name)) ?? 0)) || 0)
  const page = useApiQuery(
    ['metric-text', runId, name, fromStep],
    (client, signal) =>
      client.call('getMetricSeries', { params: { runId }, query: { name, fromStep, pageSize: PAGE_SIZE }, signal }),
    { refetchInterval: live ? LIVE_POLL_MS : false, keepPrevious: true },
  )
  const goTo = (step: number) =>
    setSearch((current) => {
      const next = new URLSearchParams(current)
      if (step === 0) next.delete(pageParam(name))
      else next.set(pageParam(name), String(step))
      return next
    })
  const items = page.data?.items ?? []
  const lastShown = items[items.length - 1]
  const titleId = `text-metric-${name.replace(/[^a-zA-Z0-9_-]/g, '-')}`
  return (
    <section className="text-metric card" aria-labelledby={titleId}>
      <h3 id={titleId}>
        {name}{' '}
        <span className="muted metric-summary">
          {summary.count.toLocaleString()} points
          {summary.kind === 'mixed' && ' (numbers and texts; the numbers are charted above)'}
        </span>
      </h3>
      {page.isPending && <Loading what={`the points of ${name}`} />}
      {page.isError && <ErrorState error={page.error} what={`the points of ${name}`} retry={() => void page.refetch()} />}
      {page.data !== undefined && (
        <>
          <div className="table-scroll text-metric-scroll">
            <table className="data">
              <caption className="visually-hidden">
                Points of {name} from step {fromStep}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">Time</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {items.map((point, i) => (
                  <tr key={`${point.step}-${i}`}>
                    <td className="num">{point.step}</td>
                    <td>{new Date(point.time).toLocaleString()}</td>
                    <td className="text-value">{point.text ?? formatValue(point.value)}</td>
                  </tr>
                ))}
                {items.length === 0 && (
                  <tr>
                    <td colSpan={3} className="muted">
                      No points from step {fromStep} on.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <div className="toolbar">
            <button type="button" className="btn" disabled={fromStep === 0} onClick={() => goTo(0)}>
              First page
            </button>
            <button
              type="button"
              className="btn"
              disabled={page.data.nextPageToken === undefined || lastShown === undefined}
              onClick={() => lastShown !== undefined && goTo(lastShown.step + 1)}
            >
              Next page
            </button>
            <span className="muted">
              {items.length > 0 && lastShown !== undefined ? `Steps ${items[0]?.step ?? fromStep} – ${lastShown.step}` : ''}
            </span>
          </div>
        </>
      )}
    </section>
  )
}
