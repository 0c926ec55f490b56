import { useSearchParams } from 'react-router'
import type { MetricSummary } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery } from '../../api/hooks.js'
import { formatValue } from '../../components/format.js'
import { ErrorState, Loading } from '../../components/States.js'

const PAGE_SIZE = 50

/** The URL parameter holding the page token of a text metric's table (none: the first page). */
function pageParam(name: string): string {
  return `text.${name}`
}

/**
 * A text metric (or a mixed one's points) as a table of step, time and value, `PAGE_SIZE` rows a
 * page. Pages follow the server's page tokens (several points may share a step, so a step is no page
 * boundary); the token is in the URL, so Back returns to the previous page and a link keeps it.
 */
export function TextMetricTable(props: { runId: string; summary: MetricSummary; live: boolean }) {
  const { runId, summary, live } = props
  const { name } = summary
  const [search, setSearch] = useSearchParams()
  const pageToken = search.get(pageParam(name)) ?? undefined
  const page = useApiQuery(
    ['metric-text', runId, name, pageToken],
    (client, signal) =>
      client.call('getMetricSeries', {
        params: { runId },
        query: { name, pageSize: PAGE_SIZE, ...(pageToken !== undefined ? { pageToken } : {}) },
        signal,
      }),
    { refetchInterval: live ? LIVE_POLL_MS : false, keepPrevious: true },
  )
  const goTo = (token: string | undefined) =>
    setSearch((current) => {
      const next = new URLSearchParams(current)
      if (token === undefined) next.delete(pageParam(name))
      else next.set(pageParam(name), token)
      return next
    })
  const items = page.data?.items ?? []
  const lastShown = items[items.length - 1]
  const nextToken = page.data?.nextPageToken
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
                Points of {name}
                {items[0] !== undefined && ` from step ${items[0].step}`}
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
                      No points on this page; go to the first page.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <div className="toolbar">
            <button type="button" className="btn" disabled={pageToken === undefined} onClick={() => goTo(undefined)}>
              First page
            </button>
            <button
              type="button"
              className="btn"
              disabled={nextToken === undefined}
              onClick={() => nextToken !== undefined && goTo(nextToken)}
            >
              Next page
            </button>
            <span className="muted">
              {items.length > 0 && lastShown !== undefined ? `Steps ${items[0]?.step ?? 0} – ${lastShown.step}` : ''}
            </span>
          </div>
        </>
      )}
    </section>
  )
}
