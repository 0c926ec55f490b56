import type { Hono } from 'hono'
import { API_PREFIX, ROUTES, buildOpenApiDocument } from '@wharf/contract'
import type { AppDeps } from '../deps.js'
import type { AppEnv } from '../http.js'
import type { BindRoute } from '../route.js'

/** Health, and outside the API table (UNBOUND_ROUTES) the OpenAPI document. */
export function mountMetaRoutes(app: Hono<AppEnv>, route: BindRoute, deps: AppDeps): void {
  route(ROUTES.health, () => ({
    status: 'ok' as const,
    version: deps.config.version,
    store: deps.store.kind,
    limits: deps.config.limits,
  }))
  let openapi: Record<string, unknown> | undefined
  app.get(`${API_PREFIX}/openapi.json`, (c) => {
    openapi ??= buildOpenApiDocument({ version: deps.config.version })
    return c.json(openapi)
  })
}
