import { useEffect, useRef, useState, type ReactNode, type RefObject } from 'react'
import { Link, useSearchParams } from 'react-router'
import { isTerminalStatus, type Experiment } from '@wharf/contract'
import { LIVE_POLL_MS, useApiQuery } from '../api/hooks.js'
import { useSession } from '../api/session.js'
import { paths } from '../app/paths.js'
import { formatTime } from '../components/format.js'
import { Empty, ErrorState, Loading } from '../components/States.js'
import { StatusBadge } from '../components/StatusBadge.js'
import { firstPage } from './runs/use-experiment-runs.js'
import './runs/runs.css'
import { usePageTitle } from '../components/page-title.js'

/** Whether the element has come near the viewport once (then it stays true): rows read their latest run lazily. */
function useSeen<T extends Element>(): [RefObject<T | null>, boolean] {
  const ref = useRef<T>(null)
  const [seen, setSeen] = useState(false)
  useEffect(() => {
    const element = ref.current
    if (seen || element === null) return
    if (typeof IntersectionObserver === 'undefined') {
      setSeen(true)
      return
    }
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) setSeen(true)
      },
      { rootMargin: '200px' },
    )
    observer.observe(element)
    return () => observer.disconnect()
  }, [seen])
  return [ref, seen]
}

/** The latest run of an experiment (one small read, once the row is on screen; polled while that run is live). */
function LatestRun(props: { experiment: string }) {
  const { workspace } = useSession()
  const [ref, seen] = useSeen<HTMLTableCellElement>()
  const latest = useApiQuery(
    ['latest-run', props.experiment],
    async (client, signal) => {
      const [run] = await firstPage(client.listRuns({ experiment: props.experiment, pageSize: 1 }, { signal }).byPage())
      return run ?? null
    },
    {
      enabled: seen,
      refetchInterval: (run) => (run !== undefined && run !== null && !isTerminalStatus(run.status) ? LIVE_POLL_MS : false),
    },
  )
  let content: ReactNode
  if (!seen || latest.isPending) content = <span className="muted">…</span>
  else if (latest.isError) content = <span className="muted">could not read ({latest.error.message})</span>
  else if (latest.data === null) content = <span className="muted">no runs yet</span>
  else {
    const run = latest.data
    content = (
      <>
        <StatusBadge status={run.status} /> <Link to={paths.run(workspace, run.id)}>{run.displayName}</Link>{' '}
        <span className="muted">{formatTime(run.startedAt ?? run.createdAt)}</span>
      </>
    )
  }
  return (
    <td ref={ref} className="latest-run">
      {content}
    </td>
  )
}

/** What a workspace without experiments shows: the few lines that log a first run. */
function FirstRunHelp(props: { workspace: string }) {
  return (
    <Empty title={`No experiments in workspace "${props.workspace}" yet.`}>
      <p>An experiment appears here with its first run. From a clone of Wharf with the server running:</p>
      <ol className="first-run-steps">
        <li>
          Point the tools at this server:{' '}
          <code>
            npx wharf workspace init --url {window.location.origin}
            {props.workspace !== 'default' && ` --workspace ${props.workspace}`}
          </code>
        </li>
        <li>
          Save as <code>train.ts</code> and run <code>npx tsx train.ts</code> (a run in experiment “train”):
          <pre className="snippet">
            {`import { getLogger } from '@wharf/sdk'

getLogger().log('loss', 0.3)`}
          </pre>
        </li>
        <li>
          Or submit a script as a tracked run: <code>npx wharf run submit --source-dir job --script train.py</code>
        </li>
      </ol>
    </Empty>
  )
}

function matchesFilter(experiment: Experiment, text: string): boolean {
  return text === '' || experiment.name.toLowerCase().includes(text)
}

/** Experiments of the workspace, by name, with each one's latest run; a filter box kept in the URL (`?q=`). */
export function ExperimentsPage() {
  usePageTitle('Experiments')
  const { workspace } = useSession()
  const [search, setSearch] = useSearchParams()
  const filter = search.get('q') ?? ''
  const experiments = useApiQuery(['experiments'], (client, signal) => client.listExperiments({ signal }).toArray())
  if (experiments.isPending) return <Loading what="experiments" />
  if (experiments.isError) {
    return <ErrorState error={experiments.error} what="experiments" retry={() => void experiments.refetch()} />
  }
  const all = experiments.data
  const text = filter.trim().toLowerCase()
  const shown = all.filter((experiment) => matchesFilter(experiment, text))
  const setFilter = (value: string) =>
    setSearch(
      (previous) => {
        const next = new URLSearchParams(previous)
        if (value === '') next.delete('q')
        else next.set('q', value)
        return next
      },
      { replace: true },
    )
  return (
    <section className="experiments-page">
      <header className="page-header">
        <h1>Experiments</h1>
        {all.length > 0 && (
          <span className="muted">
            {shown.length === all.length ? `${all.length} experiments` : `${shown.length} of ${all.length} experiments`}
          </span>
        )}
      </header>
      {all.length === 0 ? (
        <FirstRunHelp workspace={workspace} />
      ) : (
        <>
          <div className="toolbar">
            <label className="filter-box">
              <span>Filter</span>
              <input
                type="search"
                name="q"
                placeholder="experiment name"
                value={filter}
                onChange={(event) => setFilter(event.target.value)}
              />
            </label>
          </div>
          {shown.length === 0 ? (
            <Empty title={`No experiment name contains “${filter}”.`}>
              <button type="button" className="btn" onClick={() => setFilter('')}>
                Clear the filter
              </button>
            </Empty>
          ) : (
            <div className="table-scroll">
              <table className="data experiments-table">
                <thead>
                  <tr>
                    <th scope="col">Experiment</th>
                    <th scope="col">Latest run</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((experiment) => (
                    <tr key={experiment.id}>
                      <td>
                        <Link to={paths.runs(workspace, experiment.name)} className="experiment-name">
                          {experiment.name}
                        </Link>
                      </td>
                      <LatestRun experiment={experiment.name} />
                      <td className="muted">{formatTime(experiment.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  )
}
