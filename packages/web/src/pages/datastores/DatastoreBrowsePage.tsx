import { useMemo } from 'react'
import { Link, useParams, useSearchParams } from 'react-router'
import type { Datastore, DatastoreFile, DatastoreFilePage, SkippedDatastoreFile } from '@wharf/contract'
import { DownloadLink } from '../../api/download.js'
import { useApiQuery } from '../../api/hooks.js'
import { firstPage, useApiPages } from '../../api/paged.js'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { formatBytes, formatTime } from '../../components/format.js'
import { KIND_LABELS, authLabel, datastoreFileUrl, whereOf } from './datastore-view.js'
import './datastores.css'
import { usePageTitle } from '../../components/page-title.js'

/** A folder one level down, summed over the files listed so far. */
interface FolderEntry {
  name: string
  prefix: string
  files: number
  size: number
  modifiedAt: string
}

/** `a/b` or `a/b/` → `a/b/`; empty stays empty (the datastore's top). */
function folderPrefix(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '')
  return trimmed === '' ? '' : `${trimmed}/`
}

/**
 * The folders and files directly under `prefix`, from a flat listing of every file under it (the API
 * lists by string prefix, without a delimiter, so folders are read off the paths).
 */
function entriesUnder(prefix: string, files: readonly DatastoreFile[]): { folders: FolderEntry[]; files: DatastoreFile[] } {
  const folders = new Map<string, FolderEntry>()
  const direct: DatastoreFile[] = []
  for (const file of files) {
    if (!file.path.startsWith(prefix)) continue
    const rest = file.path.slice(prefix.length)
    const slash = rest.indexOf('/')
    if (slash === -1) {
      direct.push(file)
      continue
    }
    const name = rest.slice(0, slash)
    const entry = folders.get(name) ?? { name, prefix: `${prefix}${name}/`, files: 0, size: 0, modifiedAt: file.modifiedAt }
    entry.files += 1
    entry.size += file.size
    if (file.modifiedAt > entry.modifiedAt) entry.modifiedAt = file.modifiedAt
    folders.set(name, entry)
  }
  return { folders: [...folders.values()], files: direct }
}

/** A datastore's files, a folder at a time (the folder is `?path=` in the URL), with a download per file. */
export function DatastoreBrowsePage() {
  const { workspace } = useSession()
  const { name = '' } = useParams()
  usePageTitle(`${name} · Datastores`)
  const [search] = useSearchParams()
  const prefix = folderPrefix(search.get('path') ?? '')
  const datastore = useApiQuery(['datastores', name], (client, signal) => client.getDatastore(name, { signal }))
  const listing = useApiPages(['datastores', name, 'files', prefix], (client, { pageToken, signal }) =>
    firstPage<DatastoreFilePage>(
      client
        // The server's own page size (it caps what may be asked); "Load more" reads the next page.
        .listDatastoreFiles(name, { ...(prefix === '' ? {} : { prefix }), signal })
        .byPage(pageToken === undefined ? {} : { pageToken }),
    ),
  )
  const pages = listing.data?.pages
  const { entries, skipped, listed } = useMemo(() => {
    const all = pages?.flatMap((page) => page.items) ?? []
    const skippedNames: SkippedDatastoreFile[] = pages?.flatMap((page) => page.skipped ?? []) ?? []
    return { entries: entriesUnder(prefix, all), skipped: skippedNames, listed: all.length }
  }, [pages, prefix])
  const more = listing.hasNextPage

  return (
    <section className="ds-browse">
      <Breadcrumb workspace={workspace} datastore={name} prefix={prefix} />
      <div className="page-header">
        <h1>
          {name}
          {datastore.data?.isDefault === true && <span className="badge ds-default">default</span>}
        </h1>
      </div>
      {datastore.isError ? (
        <ErrorState error={datastore.error} what={`datastore "${name}"`} retry={() => void datastore.refetch()} />
      ) : datastore.data !== undefined ? (
        <DatastoreSummary datastore={datastore.data} />
      ) : null}

      {listing.isPending ? (
        <Loading what={prefix === '' ? `the files of "${name}"` : `the files under "${prefix}"`} />
      ) : pages === undefined ? (
        // A datastore that cannot be reached says why (the message names the storage and the fix).
        datastore.isError ? null : (
          <ErrorState error={listing.error} what={`the files of "${name}"`} retry={() => void listing.refetch()} />
        )
      ) : entries.folders.length === 0 && entries.files.length === 0 ? (
        prefix === '' ? (
          <Empty title={`Datastore "${name}" holds no files yet.`}>
            Upload some with <code>wharf datastore upload {name} ./data</code>, or from code with the SDK.
          </Empty>
        ) : (
          <Empty title={`There are no files under "${prefix}".`}>
            Go back to <Link to={paths.datastore(workspace, name)}>the top of {name}</Link>.
          </Empty>
        )
      ) : (
        <>
          <div className="table-scroll">
            <table className="data ds-files" aria-label={prefix === '' ? `Files of ${name}` : `Files under ${prefix}`}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">Modified</th>
                  <th scope="col">
                    <span className="visually-hidden">Download</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {entries.folders.map((folder) => (
                  <tr key={`d:${folder.name}`} className="ds-folder">
                    <th scope="row">
                      <Link to={paths.datastore(workspace, name, folder.prefix)}>{folder.name}/</Link>
                      <span className="muted ds-count">
                        {' '}
                        {folder.files} {folder.files === 1 ? 'file' : 'files'}
                        {more ? ' so far' : ''}
                      </span>
                    </th>
                    <td className="num">{formatBytes(folder.size)}</td>
                    <td>{formatTime(folder.modifiedAt)}</td>
                    <td />
                  </tr>
                ))}
                {entries.files.map((file) => {
                  const base = file.path.slice(prefix.length)
                  return (
                    <tr key={`f:${file.path}`} data-path={file.path}>
                      <th scope="row" className="ds-file-name">
                        {base}
                      </th>
                      <td className="num">{formatBytes(file.size)}</td>
                      <td>{formatTime(file.modifiedAt)}</td>
                      <td>
                        <DownloadLink
                          href={datastoreFileUrl({ workspace, datastore: name, path: file.path })}
                          filename={base}
                          className="btn ds-download"
                        >
                          Download<span className="visually-hidden"> {base}</span>
                        </DownloadLink>
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
          <div className="toolbar">
            <span className="muted" role="status">
              {listed} {listed === 1 ? 'file' : 'files'} listed{prefix === '' ? '' : ` under ${prefix}`}
              {more ? '; there are more.' : '.'}
            </span>
            {more && (
              <button
                type="button"
                className="btn"
                disabled={listing.isFetchingNextPage}
                onClick={() => void listing.fetchNextPage()}
              >
                {listing.isFetchingNextPage ? 'Loading…' : 'Load more files'}
              </button>
            )}
          </div>
          {listing.isFetchNextPageError && (
            <ErrorState error={listing.error} what="the next files" retry={() => void listing.fetchNextPage()} />
          )}
        </>
      )}
      {skipped.length > 0 && (
        <details className="ds-skipped">
          <summary>
            {skipped.length} stored {skipped.length === 1 ? 'name is' : 'names are'} not a file path and{' '}
            {skipped.length === 1 ? 'is' : 'are'} not listed
          </summary>
          <ul>
            {skipped.map((item) => (
              <li key={item.path}>
                <code>{item.path}</code> <span className="muted">— {item.reason}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  )
}

function DatastoreSummary(props: { datastore: Datastore }) {
  const { datastore } = props
  const where = whereOf(datastore)
  return (
    <p className="muted ds-summary">
      {KIND_LABELS[datastore.kind]} {where.what} <span className="mono">{where.name}</span>
      {where.around !== undefined && (
        <>
          {' '}
          at <span className="mono">{where.around}</span>
        </>
      )}{' '}
      · auth: {authLabel(datastore.authType)}
    </p>
  )
}

/** Datastores / name / folder / folder: every level but the last is a link. */
function Breadcrumb(props: { workspace: string; datastore: string; prefix: string }) {
  const { workspace, datastore, prefix } = props
  const parts = prefix === '' ? [] : prefix.slice(0, -1).split('/')
  return (
    <nav className="breadcrumb" aria-label="Folder">
      <Link to={paths.datastores(workspace)}>Datastores</Link>
      {' / '}
      {parts.length === 0 ? (
        <span aria-current="page">{datastore}</span>
      ) : (
        <Link to={paths.datastore(workspace, datastore)}>{datastore}</Link>
      )}
      {parts.map((part, index) => {
        const last = index === parts.length - 1
        const to = `${parts.slice(0, index + 1).join('/')}/`
        return (
          <span key={to}>
            {' / '}
            {last ? <span aria-current="page">{part}</span> : <Link to={paths.datastore(workspace, datastore, to)}>{part}</Link>}
          </span>
        )
      })}
    </nav>
  )
}
