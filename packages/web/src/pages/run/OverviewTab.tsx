import { Link } from 'react-router'
import { RUN_STATUSES, isTerminalStatus, type DataReferenceConfig, type Run } from '@wharf/contract'
import { useApiQuery } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'
import { formatDuration, formatTime, runDuration } from '../../components/format.js'
import { StatusBadge } from '../../components/StatusBadge.js'
import './run.css'

/** How many child runs the overview lists (the runs table lists them all). */
const CHILDREN_SHOWN = 50

/** Run overview: error first when there is one, then times, what ran, data, tags and properties, family. */
export function OverviewTab(props: { run: Run }) {
  const { run } = props
  const now = Date.now()
  return (
    <div className="run-overview">
      {run.error !== null && <RunErrorCard run={run} />}
      <section aria-labelledby="ov-times">
        <h2 id="ov-times">Status and times</h2>
        <dl className="run-facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={run.status} />
            {run.cancelRequestedAt !== null && !isTerminalStatus(run.status) && (
              <span className="muted"> cancel asked {formatTime(run.cancelRequestedAt)}</span>
            )}
          </dd>
          <dt>Created</dt>
          <dd>{formatTime(run.createdAt)}</dd>
          <dt>Started</dt>
          <dd>{run.startedAt === null ? 'not yet' : formatTime(run.startedAt)}</dd>
          <dt>Ended</dt>
          <dd>{run.endedAt === null ? (isTerminalStatus(run.status) ? '—' : 'still going') : formatTime(run.endedAt)}</dd>
          <dt>Duration</dt>
          <dd>
            {runDuration(run, now)}
            {run.endedAt === null && run.startedAt !== null && <span className="muted"> so far</span>}
          </dd>
          {run.definition !== null && (
            <>
              <dt>Runner heartbeat</dt>
              <dd data-testid="heartbeat">
                {run.heartbeatAt === null ? (
                  <span className="muted">no runner has reported yet</span>
                ) : (
                  <>
                    {formatTime(run.heartbeatAt)}{' '}
                    {!isTerminalStatus(run.status) && (
                      <span className="muted">({formatDuration(Math.max(0, now - Date.parse(run.heartbeatAt)))} ago)</span>
                    )}
                  </>
                )}
              </dd>
            </>
          )}
        </dl>
        <StatusTimeline run={run} />
      </section>
      <section aria-labelledby="ov-what">
        <h2 id="ov-what">What ran</h2>
        <dl className="run-facts">
          {run.description !== '' && (
            <>
              <dt>Description</dt>
              <dd>{run.description}</dd>
            </>
          )}
          <dt>Experiment</dt>
          <dd>
            <Link to={paths.runs(run.workspace, run.experiment)}>{run.experiment}</Link>
          </dd>
          <dt>Compute target</dt>
          <dd className="mono">{run.computeTarget}</dd>
          <dt>Script</dt>
          <dd className="mono">{run.definition?.script ?? run.scriptName ?? <span className="muted">—</span>}</dd>
          <dt>Command</dt>
          <dd>
            <CommandLine command={run.definition?.command ?? run.command} />
          </dd>
          {run.definition !== null && (
            <>
              {run.definition.python !== null && (
                <>
                  <dt>Python</dt>
                  <dd className="mono">{run.definition.python}</dd>
                </>
              )}
              <dt>Longest run time</dt>
              <dd>{formatDuration(run.definition.maxRunDurationSeconds * 1000)}</dd>
              <dt>Source snapshot</dt>
              <dd className="mono run-break">
                {run.snapshotId ?? '—'} <span className="muted">in {run.definition.sourceDirectoryDataStore}</span>
              </dd>
            </>
          )}
        </dl>
        {run.definition !== null && Object.keys(run.definition.environmentVariables).length > 0 && (
          <KeyValueTable title="Environment variables" entries={run.definition.environmentVariables} />
        )}
      </section>
      {run.definition !== null && <DataReferences references={run.definition.dataReferences} runId={run.id} />}
      <section aria-labelledby="ov-tags" className="run-two-columns">
        <div>
          <h2 id="ov-tags">Tags</h2>
          <KeyValueTable entries={run.tags} empty="No tags." />
        </div>
        <div>
          <h2>Properties</h2>
          <KeyValueTable entries={run.properties} empty="No properties." />
        </div>
      </section>
      <RunFamily run={run} />
    </div>
  )
}

/** The error of a failed (or canceled) run, up front: code, message and details. */
function RunErrorCard(props: { run: Run }) {
  const { run } = props
  const error = run.error
  if (error === null) return null
  return (
    <section className={`run-error-card run-error-${run.status}`} role="alert" aria-labelledby="ov-error">
      <h2 id="ov-error">
        {run.status === 'Failed' ? 'This run failed' : `This run ended ${run.status}`}
        {error.code !== undefined && <span className="code-tag">{error.code}</span>}
      </h2>
      <pre className="run-error-message">{error.message}</pre>
      {error.details !== undefined && error.details !== '' && (
        <details open>
          <summary>Details</summary>
          <pre className="run-error-details">{error.details}</pre>
        </details>
      )}
    </section>
  )
}

/** When the run entered each status, in lifecycle order, with the time spent in each. */
function StatusTimeline(props: { run: Run }) {
  const { run } = props
  const entered = RUN_STATUSES.flatMap((status) => {
    const at = run.statusTimes[status]
    return at === undefined ? [] : [{ status, at }]
  })
  if (entered.length === 0) return null
  return (
    <ol className="run-timeline" aria-label="Status timeline">
      {entered.map(({ status, at }, i) => {
        const next = entered[i + 1]
        const end = next !== undefined ? Date.parse(next.at) : isTerminalStatus(status) ? undefined : Date.now()
        return (
          <li key={status} data-status={status}>
            <StatusBadge status={status} />
            <span className="run-timeline-at">{formatTime(at)}</span>
            {end !== undefined && (
              <span className="muted">
                {formatDuration(end - Date.parse(at))}
                {next === undefined ? ' so far' : ''}
              </span>
            )}
          </li>
        )
      })}
    </ol>
  )
}

function CommandLine(props: { command: readonly string[] | null | undefined }) {
  if (props.command === null || props.command === undefined || props.command.length === 0) return <span className="muted">—</span>
  const quoted = props.command.map((arg) => (/^[\w@%+=:,./$-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`))
  return <code className="run-command">{quoted.join(' ')}</code>
}

function KeyValueTable(props: { entries: Record<string, string>; title?: string; empty?: string }) {
  const keys = Object.keys(props.entries).sort()
  if (keys.length === 0) return <p className="muted">{props.empty ?? 'None.'}</p>
  return (
    <>
      {props.title !== undefined && <h3>{props.title}</h3>}
      <div className="table-scroll">
        <table className="data run-kv">
          <tbody>
            {keys.map((key) => (
              <tr key={key}>
                <th scope="row" className="mono">
                  {key}
                </th>
                <td className="mono">{props.entries[key]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}

/** Inputs (mounted or downloaded before the script) and outputs (uploaded after it), with their datastores. */
function DataReferences(props: { references: DataReferenceConfig[]; runId: string }) {
  const inputs = props.references.filter((r) => r.mode !== 'upload')
  const outputs = props.references.filter((r) => r.mode === 'upload')
  return (
    <section aria-labelledby="ov-data" className="run-data">
      <h2 id="ov-data">Inputs and outputs</h2>
      <h3>Inputs</h3>
      <ReferenceTable references={inputs} runId={props.runId} empty="No inputs: the script read no datastore paths." />
      <h3>Outputs</h3>
      <ReferenceTable references={outputs} runId={props.runId} empty="No outputs beyond the run’s own ./outputs folder." />
    </section>
  )
}

function ReferenceTable(props: { references: DataReferenceConfig[]; runId: string; empty: string }) {
  const { workspace } = useSession()
  if (props.references.length === 0) return <p className="muted">{props.empty}</p>
  return (
    <div className="table-scroll">
      <table className="data">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Datastore</th>
            <th scope="col">Path on datastore</th>
            <th scope="col">Mode</th>
            <th scope="col">Path on compute</th>
            <th scope="col">Overwrite</th>
          </tr>
        </thead>
        <tbody>
          {props.references.map((ref) => {
            // `{runId}` in an output path is the run's own id.
            const path = ref.pathOnDatastore?.replaceAll('{runId}', props.runId) ?? null
            return (
              <tr key={`${ref.mode}:${ref.name}`}>
                <td className="mono">{ref.name}</td>
                <td>
                  <Link to={paths.datastore(workspace, ref.datastore)}>{ref.datastore}</Link>
                </td>
                <td className="mono">
                  {path === null ? (
                    <span className="muted">the whole datastore</span>
                  ) : (
                    <Link to={paths.datastore(workspace, ref.datastore, path)}>{path}</Link>
                  )}
                </td>
                <td>{ref.mode}</td>
                <td className="mono">{ref.pathOnCompute ?? <span className="muted">picked by the runner</span>}</td>
                <td>{ref.mode === 'upload' ? (ref.overwrite ? 'yes' : 'no') : '—'}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** The parent run and the first child runs, as links. */
function RunFamily(props: { run: Run }) {
  const { run } = props
  const { workspace } = useSession()
  const children = useApiQuery(['run-children', run.id], async (client, signal) => {
    for await (const page of client.listRuns({ parentRunId: run.id, pageSize: CHILDREN_SHOWN }, { signal }).byPage()) {
      return { items: page.items, hasMore: page.nextPageToken !== undefined }
    }
    return { items: [], hasMore: false }
  })
  const items = children.data?.items ?? []
  if (run.parentRunId === null && items.length === 0 && !children.isError) return null
  return (
    <section aria-labelledby="ov-family">
      <h2 id="ov-family">Related runs</h2>
      {run.parentRunId !== null && (
        <p>
          Parent run: <Link to={paths.run(workspace, run.parentRunId)}>{run.parentRunId}</Link>
        </p>
      )}
      {children.isError && <p className="field-error">Could not list the child runs: {children.error.message}</p>}
      {items.length > 0 && (
        <>
          <h3>Child runs</h3>
          <ul className="run-plain-list">
            {items.map((child) => (
              <li key={child.id}>
                <Link to={paths.run(workspace, child.id)}>{child.displayName}</Link> <StatusBadge status={child.status} />{' '}
                <span className="muted mono">{child.id}</span>
              </li>
            ))}
          </ul>
          {children.data?.hasMore === true && (
            <p className="muted">
              The first {CHILDREN_SHOWN} are listed; the runs table of {run.experiment} lists them all.
            </p>
          )}
        </>
      )}
    </section>
  )
}
