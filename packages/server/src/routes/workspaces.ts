import type { Hono } from 'hono'
import {
  ROUTES,
  NAME_RULES,
  assertName,
  CreateExperimentSchema,
  CreateWorkspaceSchema,
  PageQuerySchema,
} from '@wharf/contract'
import { toDatastoreView } from '@wharf/store'
import { createWorkspaceWithDefaults } from '../bootstrap.js'
import type { AppDeps } from '../deps.js'
import { param, readJson, readQuery, workspaceParam, type AppEnv } from '../http.js'
import { pageSizeOf } from './paging.js'

/** Workspaces, reading their datastores, and experiments. */
export function mountWorkspaceRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, config } = deps
  const limit = config.limits.jsonBodyBytes

  app.get(ROUTES.listWorkspaces.path, async (c) => c.json({ items: await store.listWorkspaces() }))

  app.post(ROUTES.createWorkspace.path, async (c) => {
    const body = await readJson(c, CreateWorkspaceSchema, limit)
    assertName(body.name, NAME_RULES.workspace)
    const workspace = await createWorkspaceWithDefaults(store, {
      name: body.name,
      dataDir: config.dataDir,
      configured: config.builtinStores,
      context: deps.datastores,
    })
    return c.json(workspace, 201)
  })

  app.get(ROUTES.getWorkspace.path, async (c) => c.json(await store.getWorkspace(workspaceParam(c))))

  app.get(ROUTES.listDatastores.path, async (c) => {
    const workspace = await store.getWorkspace(workspaceParam(c))
    const records = await store.listDatastores(workspace.name)
    return c.json({ items: records.map((r) => toDatastoreView(r, workspace)) })
  })

  app.get(ROUTES.getDatastore.path, async (c) => {
    const workspace = await store.getWorkspace(workspaceParam(c))
    const record = await store.getDatastore({ workspace: workspace.name, name: param(c, 'datastore') })
    return c.json(toDatastoreView(record, workspace))
  })

  app.get(ROUTES.listExperiments.path, async (c) => {
    const workspace = workspaceParam(c)
    const query = readQuery(c, PageQuerySchema)
    await store.getWorkspace(workspace)
    return c.json(
      await store.listExperiments({ workspace, pageSize: pageSizeOf(query, config.limits), pageToken: query.pageToken }),
    )
  })

  app.post(ROUTES.createExperiment.path, async (c) => {
    const workspace = workspaceParam(c)
    const body = await readJson(c, CreateExperimentSchema, limit)
    assertName(body.name, NAME_RULES.experiment)
    await store.getWorkspace(workspace)
    return c.json(await store.ensureExperiment({ workspace, name: body.name, createdAt: new Date().toISOString() }))
  })

  app.get(ROUTES.getExperiment.path, async (c) =>
    c.json(await store.getExperiment({ workspace: workspaceParam(c), name: param(c, 'experiment') })),
  )
}
