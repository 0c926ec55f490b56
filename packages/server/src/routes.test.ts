import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_PREFIX, ROUTES, type RouteDef } from '@wharf/contract'
import { createMetadataStore, type MetadataStore } from '@wharf/store'
import { createApp } from './app.js'
import { loadServerConfig, type ServerConfig } from './config.js'
import { createDriverRegistry } from './driver-registry.js'
import type { AppEnv } from './http.js'
import { createLog } from './log.js'
import { UNBOUND_ROUTES, routeBinder } from './route.js'
import { createSecretBox, loadSecretKey } from './secret-box.js'

const key = (method: string, routePath: string): string => `${method} ${routePath}`

describe('the route table binds the server', () => {
  let dir: string
  let store: MetadataStore
  let config: ServerConfig
  let app: Hono<AppEnv>
  const logLines: string[] = []
  const log = createLog({ level: 'debug', write: (line) => logLines.push(line) })

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-routes-test-'))
    config = loadServerConfig({ host: '127.0.0.1', port: 0, dataDir: dir, version: 'test' })
    store = await createMetadataStore({ kind: 'sqlite', path: path.join(dir, 'wharf.db') })
    const datastores = { box: createSecretBox(await loadSecretKey({ dataDir: dir })), log, policy: { filesystemRoots: [] } }
    app = createApp({ store, config, log, datastores, drivers: createDriverRegistry(store, datastores) })
  })
  afterAll(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Method and path of every handler the app mounted (middleware is mounted for ALL methods). */
  const mounted = (): string[] =>
    [...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => key(r.method, r.path)))].sort()

  it('mounts every route of ROUTES, and nothing else but the pages listed as outside the table', () => {
    const table = (Object.values(ROUTES) as RouteDef[]).map((r) => key(r.method, r.path))
    const unbound = UNBOUND_ROUTES.map((r) => key(r.method, r.path))
    expect(mounted()).toEqual([...table, ...unbound].sort())
    // Each route is mounted once: two handlers for one method and path would hide one of them.
    const handlers = app.routes.filter((r) => r.method !== 'ALL').map((r) => key(r.method, r.path))
    expect(handlers).toHaveLength(new Set(handlers).size)
  })

  it('serves an OpenAPI document whose operations are exactly the mounted API routes', async () => {
    const response = await app.request(`${API_PREFIX}/openapi.json`)
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> }
    expect(doc.openapi).toBe('3.0.3')
    const documented = Object.entries(doc.paths).flatMap(([docPath, operations]) =>
      Object.keys(operations).map((method) => key(method.toUpperCase(), docPath)),
    )
    const unbound = new Set(UNBOUND_ROUTES.map((r) => key(r.method, r.path)))
    const api = mounted()
      .filter((route) => !unbound.has(route))
      .map((route) => route.replace(/:([A-Za-z][A-Za-z0-9]*)/g, '{$1}').replace(/\*$/, '{path}'))
    expect(documented.sort()).toEqual(api)
  })

  it('refuses to bind a route that is not in the table', () => {
    const route = routeBinder(new Hono<AppEnv>(), { config, log })
    const copy: RouteDef = { ...ROUTES.health }
    expect(() => route(copy, () => new Response())).toThrow(/not a route of ROUTES/)
  })

  describe('with checkResponses, an answer the contract refuses is a loud 500', () => {
    const bind = (checkResponses: boolean) => {
      const bare = new Hono<AppEnv>()
      bare.onError((error, c) => c.json({ error: { code: 'INTERNAL', message: error.message } }, 500))
      return { bare, route: routeBinder(bare, { config, log, ...(checkResponses ? { checkResponses } : {}) }) }
    }

    it('names the route and the field for a body that breaks the response schema', async () => {
      const { bare, route } = bind(true)
      // A deliberately wrong answer: `version` must be a string.
      route(ROUTES.health, () => ({ status: 'ok', version: 7, store: 'sqlite', limits: config.limits }) as never)
      const response = await bare.request(ROUTES.health.path)
      expect(response.status).toBe(500)
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/route health .*version/)
      expect(logLines.some((line) => line.includes('response breaks the contract'))).toBe(true)
    })

    it('refuses a field the response schema does not list, however deep', async () => {
      const { bare, route } = bind(true)
      route(
        ROUTES.health,
        () => ({ status: 'ok', version: 'test', store: 'sqlite', limits: { ...config.limits, secret: 'x' } }) as never,
      )
      const response = await bare.request(ROUTES.health.path)
      expect(response.status).toBe(500)
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain('limits.secret')
    })

    it('refuses a status the table does not give the route', async () => {
      const { bare, route } = bind(true)
      route(ROUTES.listWorkspaces, ({ c }) => c.json({ items: [] }, 202))
      expect((await bare.request(ROUTES.listWorkspaces.path)).status).toBe(500)
    })

    it('passes the same answers through when it is off', async () => {
      const { bare, route } = bind(false)
      route(ROUTES.health, () => ({ status: 'ok', version: 7 }) as never)
      expect((await bare.request(ROUTES.health.path)).status).toBe(200)
    })
  })
})
