import { useMemo } from 'react'
import { QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query'
import { createBrowserRouter, Navigate, Outlet, RouterProvider, useParams, useRouteError } from 'react-router'
import { isWharfError } from '@wharf/contract'
import { SessionProvider } from '../api/session.js'
import { Layout } from '../components/Layout.js'
import { Empty, ErrorState, Loading } from '../components/States.js'
import { useApiQuery } from '../api/hooks.js'
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

/** MLflow's own page links, as MLflow clients print them ("View run … at http://server/#/experiments/3/runs/<id>"). */
const MLFLOW_RUN_LINK = /^#\/experiments\/\d+\/runs\/([0-9a-z]+)/i
const MLFLOW_EXPERIMENT_LINK = /^#\/experiments\/(\d+)/

/** The experiment an MLflow link names by its id ("0" is MLflow's Default experiment). */
function MlflowExperimentRedirect(props: { id: number }) {
  const experiments = useApiQuery(['experiments'], (client, signal) => client.listExperiments({ signal }).toArray())
  if (experiments.isPending) return <Loading what={`MLflow experiment ${props.id}`} />
  const found =
    props.id === 0 ? experiments.data?.find((e) => e.name === 'Default') : experiments.data?.find((e) => e.id === props.id)
  return <Navigate to={found ? paths.runs('default', found.name) : paths.experiments('default')} replace />
}

/** The root: the default workspace's experiments, or the page an MLflow link points at. */
function Root() {
  const hash = window.location.hash
  const run = MLFLOW_RUN_LINK.exec(hash)?.[1]
  if (run !== undefined) return <Navigate to={paths.run('default', run.toLowerCase())} replace />
  const experiment = MLFLOW_EXPERIMENT_LINK.exec(hash)?.[1]
  if (experiment === undefined) return <Navigate to={paths.experiments('default')} replace />
  return (
    <SessionProvider workspace="default">
      <Layout>
        <MlflowExperimentRedirect id={Number(experiment)} />
      </Layout>
    </SessionProvider>
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
  { path: '/', element: <Root /> },
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
      {/* Filters, toggles and selections keep their state in the URL. A navigation in a transition would
          render a click or keystroke late, and a controlled input would drop the keys typed meanwhile
          (decision 0036); no route suspends, so there is nothing for a transition to hold back. */}
      <RouterProvider router={router} useTransitions={false} />
    </QueryClientProvider>
  )
}
