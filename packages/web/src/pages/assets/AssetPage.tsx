import { Link, useParams, useSearchParams } from 'react-router'
import { NAME_RULES, type AssetAlias, type AssetVersion } from '@wharf/contract'
import { DownloadLink } from '../../api/download.js'
import { useApiQuery } from '../../api/hooks.js'
import { firstPage, useApiPages } from '../../api/paged.js'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { formatBytes, formatTime } from '../../components/format.js'
import { AssetAliases } from './AssetAliases.js'
import { DescriptionEditor, TagEditor, useVersionEdit } from './AssetVersionEdit.js'
import { assetFileUrl, baseName } from './asset-view.js'
import './assets.css'
import { usePageTitle } from '../../components/page-title.js'

/** `?version=3` → 3, `?version=champion` → the alias; absent or neither → the newest. */
function versionOf(value: string | null): number | string {
  if (value === null) return 'latest'
  if (/^[1-9]\d{0,14}$/.test(value)) return Number(value)
  return NAME_RULES.assetAlias.pattern.test(value) ? value : 'latest'
}

/** How the page names what it shows while reading it. */
function describeChoice(chosen: number | string, name: string): string {
  if (chosen === 'latest') return `the latest version of "${name}"`
  return typeof chosen === 'number' ? `version ${chosen} of "${name}"` : `the version @${chosen} of "${name}" points at`
}

/**
 * One asset: its versions (newest first) beside the chosen one (`?version=` in the URL, the newest when
 * absent): where it came from (run and artifact prefix), description, tags, and its files with download.
 */
export function AssetPage() {
  const { workspace } = useSession()
  const { name = '' } = useParams()
  usePageTitle(`${name} · Assets`)
  const [search] = useSearchParams()
  const chosen = versionOf(search.get('version'))
  const versions = useApiPages(['assets', name, 'versions'], (client, { pageToken, signal }) =>
    firstPage(client.listAssetVersions(name, { signal }).byPage(pageToken === undefined ? {} : { pageToken })),
  )
  const version = useApiQuery(['assets', name, 'version', chosen], (client, signal) =>
    client.getAssetVersion(name, chosen, { signal }),
  )
  const aliases = useApiQuery(['assets', name, 'aliases'], (client, signal) => client.listAssetAliases(name, { signal }))
  const aliasesOf = (n: number): AssetAlias[] => (aliases.data ?? []).filter((a) => a.version === n)
  const list = versions.data?.pages.flatMap((page) => page.items)
  const shown = version.data?.version

  return (
    <section className="asset-page">
      <nav className="breadcrumb" aria-label="Asset">
        <Link to={paths.assets(workspace)}>Assets</Link> / <span aria-current="page">{name}</span>
      </nav>
      <div className="page-header">
        <h1>
          {name}
          {shown !== undefined && <span className="asset-version-title"> v{shown}</span>}
        </h1>
        {shown !== undefined && (
          <code className="muted asset-cli" title="Download this version with the CLI">
            wharf asset download {name}:{shown} -d ./{name}
          </code>
        )}
      </div>
      <div className="asset-layout">
        <aside className="asset-versions" aria-label="Versions">
          <h2>Versions</h2>
          {versions.isPending ? (
            <Loading what="the versions" />
          ) : list === undefined ? (
            <ErrorState error={versions.error} what={`the versions of "${name}"`} retry={() => void versions.refetch()} />
          ) : list.length === 0 ? (
            <Empty title="This asset has no versions." />
          ) : (
            <ol className="asset-version-list">
              {list.map((item) => (
                <li key={item.version}>
                  <Link
                    to={paths.asset(workspace, name, item.version)}
                    aria-current={item.version === shown ? 'page' : undefined}
                    className={item.version === shown ? 'current' : undefined}
                  >
                    <strong>v{item.version}</strong>
                    {aliasesOf(item.version).length > 0 && (
                      <span className="asset-version-aliases">
                        {aliasesOf(item.version).map((a) => (
                          <span key={a.alias} className="badge alias-badge">
                            @{a.alias}
                          </span>
                        ))}
                      </span>
                    )}
                    <span className="muted">
                      {formatTime(item.createdAt)} · {item.fileCount} {item.fileCount === 1 ? 'file' : 'files'},{' '}
                      {formatBytes(item.size)}
                    </span>
                    {item.description !== '' && <span className="asset-version-description">{item.description}</span>}
                  </Link>
                </li>
              ))}
            </ol>
          )}
          {versions.hasNextPage && (
            <button
              type="button"
              className="btn"
              disabled={versions.isFetchingNextPage}
              onClick={() => void versions.fetchNextPage()}
            >
              {versions.isFetchingNextPage ? 'Loading…' : 'Older versions'}
            </button>
          )}
        </aside>
        <div className="asset-detail">
          {version.isPending ? (
            <Loading what={describeChoice(chosen, name)} />
          ) : version.isError ? (
            <ErrorState
              error={version.error}
              what={chosen === 'latest' ? `asset "${name}"` : describeChoice(chosen, name)}
              retry={() => void version.refetch()}
            />
          ) : (
            // Keyed by version: the drafts and messages of its forms belong to the version they were typed at.
            <VersionDetail key={version.data.version} version={version.data} aliases={aliases.data} />
          )}
        </div>
      </div>
    </section>
  )
}

function VersionDetail(props: { version: AssetVersion; aliases: readonly AssetAlias[] | undefined }) {
  const { version, aliases } = props
  const { workspace } = useSession()
  const edit = useVersionEdit(version)
  return (
    <>
      <dl className="asset-facts">
        <dt>From run</dt>
        <dd>
          <Link to={paths.run(workspace, version.sourceRunId, 'artifacts')} className="mono">
            {version.sourceRunId}
          </Link>
        </dd>
        <dt>Artifact prefix</dt>
        <dd>
          <code>{version.artifactPath}</code>
          <span className="muted">
            {version.copied ? ' (copied: the run was still live when promoted)' : " (the run's own files, referenced)"}
          </span>
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(version.createdAt)}</dd>
        <dt>Aliases</dt>
        <dd>
          {aliases === undefined ? (
            <span className="muted">…</span>
          ) : (
            <AssetAliases name={version.name} version={version.version} aliases={aliases} />
          )}
        </dd>
        <dt>Description</dt>
        <dd>
          <DescriptionEditor version={version} edit={edit} />
        </dd>
        <dt>Tags</dt>
        <dd>
          <TagEditor version={version} edit={edit} />
        </dd>
        <dt>Files</dt>
        <dd>
          {version.fileCount} ({formatBytes(version.size)})
        </dd>
      </dl>
      {/* Always in the page, so a screen reader announces each saved edit. */}
      <p id="version-edit-outcome" className="muted version-edit-outcome" role="status">
        {edit.announcement}
      </p>
      <h2>Files</h2>
      {version.files.length === 0 ? (
        <Empty title="This version has no files." />
      ) : (
        <div className="table-scroll">
          <table className="data asset-files" aria-label={`Files of ${version.name} version ${version.version}`}>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">sha256</th>
                <th scope="col">
                  <span className="visually-hidden">Download</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {version.files.map((file) => (
                <tr key={file.path} data-path={file.path}>
                  <th scope="row" className="asset-path">
                    {file.path}
                  </th>
                  <td className="num">{formatBytes(file.size)}</td>
                  <td className="mono asset-sha" title={file.sha256}>
                    {file.sha256}
                  </td>
                  <td>
                    <DownloadLink
                      href={assetFileUrl({ workspace, asset: version.name, version: version.version, path: file.path })}
                      filename={baseName(file.path)}
                      className="btn asset-download"
                    >
                      Download<span className="visually-hidden"> {file.path}</span>
                    </DownloadLink>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
