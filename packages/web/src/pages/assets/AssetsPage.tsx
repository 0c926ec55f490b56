import { Link } from 'react-router'
import { useApiPages, firstPage } from '../../api/paged.js'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { formatTime } from '../../components/format.js'
import './assets.css'
import { usePageTitle } from '../../components/page-title.js'

/** The assets of the workspace: each name with its latest version, how many versions it has, and when it changed. */
export function AssetsPage() {
  usePageTitle('Assets')
  const { workspace } = useSession()
  const listing = useApiPages(['assets'], (client, { pageToken, signal }) =>
    firstPage(client.listAssets({ signal }).byPage(pageToken === undefined ? {} : { pageToken })),
  )
  const assets = listing.data?.pages.flatMap((page) => page.items)

  return (
    <section className="assets-page">
      <div className="page-header">
        <h1>Assets</h1>
      </div>
      <p className="muted">
        Named, versioned sets of files promoted from a run&apos;s artifacts. A version never changes; promoting again adds one.
      </p>
      {listing.isPending ? (
        <Loading what="the assets" />
      ) : assets === undefined ? (
        <ErrorState error={listing.error} what="the assets" retry={() => void listing.refetch()} />
      ) : assets.length === 0 ? (
        <Empty title={`No asset in workspace "${workspace}" yet.`}>
          Promote a run&apos;s artifacts: open a run, choose its Artifacts tab and Promote; or with the CLI,{' '}
          <code>wharf history promote -r RUN_ID -ap outputs/model -n my-model</code>.{' '}
          <Link to={paths.experiments(workspace)}>Go to the experiments</Link>.
        </Empty>
      ) : (
        <>
          <div className="table-scroll">
            <table className="data assets-table" aria-label={`Assets of workspace ${workspace}`}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">
                    Latest
                  </th>
                  <th scope="col" className="num">
                    Versions
                  </th>
                  <th scope="col">Description</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {assets.map((asset) => (
                  <tr key={asset.name} data-asset={asset.name}>
                    <th scope="row">
                      <Link to={paths.asset(workspace, asset.name)}>{asset.name}</Link>
                    </th>
                    <td className="num">
                      <Link
                        to={paths.asset(workspace, asset.name, asset.latestVersion)}
                        aria-label={`${asset.name} version ${asset.latestVersion}`}
                      >
                        v{asset.latestVersion}
                      </Link>
                    </td>
                    <td className="num">{asset.versionCount}</td>
                    <td className="assets-description">
                      {asset.description === '' ? <span className="muted">—</span> : asset.description}
                    </td>
                    <td>{formatTime(asset.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {listing.hasNextPage && (
            <div className="toolbar">
              <button
                type="button"
                className="btn"
                disabled={listing.isFetchingNextPage}
                onClick={() => void listing.fetchNextPage()}
              >
                {listing.isFetchingNextPage ? 'Loading…' : 'Load more assets'}
              </button>
            </div>
          )}
          {listing.isFetchNextPageError && (
            <ErrorState error={listing.error} what="more assets" retry={() => void listing.fetchNextPage()} />
          )}
        </>
      )}
    </section>
  )
}
