import { useMemo } from 'react'
import { QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query'
import { createBrowserRouter, Navigate, Outlet, RouterProvider, useParams, useRouteError } from 'react-router'
import { isWharfError } from '@wharf/contract'
import { SessionProvider } from '../api/session.js'
import { Layout } from '../components/Layout.js'
import { Empty, ErrorState } from '../components/States.js'
import { ExperimentsPage } from '../pages/ExperimentsPage.js'
import { RunsPage } from '../pages/RunsPage.js'
import { RunPage } from '../pages/run/RunPage.js'
import { ComparePage } from '../pages/ComparePage.js'
import { DatastoresPage } from '../pages/datastores/DatastoresPage.js'
import { RegisterDatastorePage } from '../pages/datastores/RegisterDatastorePage.js'
import { DatastoreBrowsePage } from '../pages/datastores/DatastoreBrowsePage.js'
import { AssetsPage } from '../pages/assets/AssetsPage.js'
import { AssetPage } from '../pages/assets/AssetPage.js'
import { paths } from './paths.js'

/** The workspace in the URL provides the session (client, token); every page sits in the layout. */
function WorkspaceFrame() {
  const { workspace = 'default' } = useParams()
  const queryClient = useQueryClient()
  // A new token retries every read that failed for the want of one.
  const onTokenChange = useMemo(() => () => void queryClient.invalidateQueries(), [queryClient])
  return (
    <SessionProvider workspace={workspace} onTokenChange={onTokenChange}>
      <Layout>
        <Outlet />
      </Layout>
    </SessionProvider>
  )
}

function RouteError() {
  const error = useRouteError()
  return (
    <div className="page">
      <ErrorState error={error} what="this page" retry={() => window.location.reload()} />
    </div>
  )
}

function NotFound() {
  return (
    <Empty title="There is no studio page at this address.">
      Start from <a href={paths.experiments('default')}>the experiments of the default workspace</a>.
    </Empty>
  )
}

const router = createBrowserRouter([
  { path: '/', element: <Navigate to={paths.experiments('default')} replace /> },
  {
    path: '/w/:workspace',
    element: <WorkspaceFrame />,
    errorElement: <RouteError />,
    children: [
      { index: true, element: <Navigate to="experiments" replace /> },
      { path: 'experiments', element: <ExperimentsPage /> },
      { path: 'experiments/:experiment', element: <RunsPage /> },
      { path: 'runs/:runId', element: <RunPage /> },
      { path: 'compare', element: <ComparePage /> },
      { path: 'datastores', element: <DatastoresPage /> },
      { path: 'datastores/new', element: <RegisterDatastorePage /> },
      { path: 'datastores/:name', element: <DatastoreBrowsePage /> },
      { path: 'assets', element: <AssetsPage /> },
      { path: 'assets/:name', element: <AssetPage /> },
      { path: '*', element: <NotFound /> },
    ],
  },
  { path: '*', element: <NotFound /> },
])

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A user's mistake (a 4xx) is shown at once; an unreachable server is retried a little.
      retry: (failures, error) => failures < 2 && !(isWharfError(error) && error.status < 500),
      refetchOnWindowFocus: false,
      staleTime: 1000,
    },
  },
})

/** The studio. */
export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  )
}
