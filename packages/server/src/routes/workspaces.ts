import { ROUTES, NAME_RULES, assertName } from '@wharf/contract'
import { toDatastoreView } from '@wharf/store'
import { createWorkspaceWithDefaults } from '../bootstrap.js'
import type { AppDeps } from '../deps.js'
import type { BindRoute } from '../route.js'
import { pageSizeOf } from './paging.js'

/** Workspaces, reading their datastores, and experiments. */
export function mountWorkspaceRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config } = deps

  route(ROUTES.listWorkspaces, async () => ({ items: await store.listWorkspaces() }))

  route(ROUTES.createWorkspace, async ({ body }) => {
    assertName(body.name, NAME_RULES.workspace)
    return createWorkspaceWithDefaults(store, {
      name: body.name,
      dataDir: config.dataDir,
      configured: config.builtinStores,
      context: deps.datastores,
    })
  })

  route(ROUTES.getWorkspace, async ({ params }) => store.getWorkspace(params.workspace))

  route(ROUTES.listDatastores, async ({ params }) => {
    const workspace = await store.getWorkspace(params.workspace)
    const records = await store.listDatastores(workspace.name)
    return { items: records.map((r) => toDatastoreView(r, workspace)) }
  })

  route(ROUTES.getDatastore, async ({ params }) => {
    const workspace = await store.getWorkspace(params.workspace)
    return toDatastoreView(await store.getDatastore({ workspace: workspace.name, name: params.datastore }), workspace)
  })

  route(ROUTES.listExperiments, async ({ params: { workspace }, query }) => {
    await store.getWorkspace(workspace)
    return store.listExperiments({ workspace, pageSize: pageSizeOf(query, config.limits), pageToken: query.pageToken })
  })

  route(ROUTES.createExperiment, async ({ params: { workspace }, body }) => {
    assertName(body.name, NAME_RULES.experiment)
    await store.getWorkspace(workspace)
    return store.ensureExperiment({ workspace, name: body.name, createdAt: new Date().toISOString() })
  })

  route(ROUTES.getExperiment, async ({ params }) => store.getExperiment({ workspace: params.workspace, name: params.experiment }))
}
