import type { Hono } from 'hono'
import { API_PREFIX, ROUTES, buildOpenApiDocument } from '@wharf/contract'
import type { AppDeps } from '../deps.js'
import type { AppEnv } from '../http.js'
import type { BindRoute } from '../route.js'

const HOME_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wharf</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1b2733}
code{background:#eef2f6;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Wharf</h1><p>The server is running.</p>
<ul><li>API: <a href="/api/v1/health"><code>/api/v1</code></a></li>
<li>OpenAPI document: <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a></li></ul>
<p>The studio (runs, charts, artifacts) is served here once it is built.</p></body></html>`

/** Health, and outside the API table (UNBOUND_ROUTES) the OpenAPI document and the page at the root. */
export function mountMetaRoutes(app: Hono<AppEnv>, route: BindRoute, deps: AppDeps): void {
  app.get('/', (c) => c.html(HOME_PAGE))
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
