import type { Run } from '@wharf/contract'
import { DownloadLink } from '../../api/download.js'
import { useApiQuery } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'
import { formatBytes, formatTime } from '../../components/format.js'
import { ErrorState, Loading } from '../../components/States.js'
import { snapshotBlobHref } from './api-hrefs.js'

/**
 * The source snapshot of a submitted run: its files, each with a download. The API serves a snapshot
 * file by file (by content hash), not as one archive; `wharf run show <id> --snapshot <dir>` fetches
 * the whole folder.
 */
export function SnapshotPanel(props: { run: Run & { snapshotId: string } }) {
  const { run } = props
  const { workspace } = useSession()
  const snapshot = useApiQuery(['snapshot', run.snapshotId], (client, signal) =>
    client.call('getSnapshot', { params: { snapshotId: run.snapshotId }, signal }),
  )
  if (snapshot.isPending) return <Loading what="the source snapshot" />
  if (snapshot.isError)
    return <ErrorState error={snapshot.error} what="the source snapshot" retry={() => void snapshot.refetch()} />
  const { files, totalBytes, createdAt, datastore } = snapshot.data
  return (
    <section className="card snapshot-panel" aria-labelledby="snapshot-title">
      <h2 id="snapshot-title">Source snapshot</h2>
      <p className="muted">
        {files.length} {files.length === 1 ? 'file' : 'files'}, {formatBytes(totalBytes)}, taken {formatTime(createdAt)}, kept in{' '}
        <span className="mono">{datastore}</span>. Download files one by one here; for the whole folder run{' '}
        <code>wharf run show {run.id} --snapshot &lt;folder&gt;</code>.
      </p>
      <div className="table-scroll">
        <table className="data">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">SHA-256</th>
              <th scope="col">
                <span className="visually-hidden">Download</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {files.map((file) => (
              <tr key={file.path}>
                <td className="mono">
                  {file.path}
                  {file.executable === true && <span className="muted"> (executable)</span>}
                </td>
                <td className="num">{formatBytes(file.size)}</td>
                <td className="mono muted" title={file.sha256}>
                  {file.sha256.slice(0, 12)}…
                </td>
                <td>
                  <DownloadLink
                    href={snapshotBlobHref({ workspace, sha256: file.sha256, datastore })}
                    filename={file.path.slice(file.path.lastIndexOf('/') + 1)}
                  >
                    Download<span className="visually-hidden"> {file.path}</span>
                  </DownloadLink>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
