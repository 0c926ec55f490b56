import { timingSafeEqual, createHash } from 'node:crypto'
import { Hono } from 'hono'
import { ErrorBodySchema, WharfError, type ErrorBody } from '@wharf/contract'
import { browserGuard } from './browser-guard.js'
import type { AppDeps } from './deps.js'
import { isClientClosed, type AppEnv } from './http.js'
import { routeBinder } from './route.js'
import { RUN_TOKEN_KEY_LABEL, authorizeRunToken, createRunTokens, isRunToken } from './run-token.js'
import { mountRunControlRoutes } from './routes/run-control.js'
import { mountRunLogRoutes } from './routes/run-logs.js'
import { mountSnapshotRoutes, snapshotContentsCache } from './routes/snapshots.js'
import { mountArtifactRoutes } from './routes/artifacts.js'
import { mountAssetRoutes } from './routes/assets.js'
import { mountDatastoreRoutes } from './routes/datastores.js'
import { mountMetaRoutes } from './routes/meta.js'
import { mountStudio } from './routes/studio.js'
import { mountMetricRoutes } from './routes/metrics.js'
import { mountRunRoutes } from './routes/runs.js'
import { mountWorkspaceRoutes } from './routes/workspaces.js'
import { isMlflowPath, mlflowErrorResponse, mountMlflow } from './mlflow/index.js'

function sameSecret(given: string, expected: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** Turns anything thrown into the one error shape; unknown errors become INTERNAL and are logged. */
export function toErrorResponse(error: unknown, deps: Pick<AppDeps, 'log'>): { status: number; body: ErrorBody } {
  const known =
    error instanceof WharfError
      ? error
      : new WharfError('INTERNAL', 'the server failed to handle this request; the server log has the details', {
          cause: error,
        })
  if (known.code === 'INTERNAL') deps.log.error('unhandled error', { error: known.cause ?? known })
  const body: ErrorBody = { error: { code: known.code, message: known.message } }
  if (known.details !== undefined) body.error.details = known.details
  return { status: known.status, body }
}

/** Builds the HTTP app over its dependencies. No I/O happens until a request arrives. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const token = deps.config.authToken

  if (deps.config.logRequests) {
    app.use('*', async (c, next) => {
      const started = performance.now()
      await next()
      deps.log.info('request', {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      })
    })
  }

  // Before the token check: a hostile page is refused for what it is, whatever it sends.
  app.use('*', browserGuard({ allowedHosts: deps.config.allowedHosts }))
  // Before the token check too: the studio's page and scripts hold no data, and it asks for the token itself.
  mountStudio(app, { dir: deps.config.studioDir })

  const runTokens = createRunTokens(deps.datastores.box.deriveKey(RUN_TOKEN_KEY_LABEL))
  // A run token is verified whether or not the server has a token of its own: its claims then hold the
  // request to the route's run-token access (the binder checks them). Any other bearer is compared with
  // the server's token when there is one.
  app.use('*', async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const bearer = /^Bearer (.+)$/i.exec(header)?.[1]
    if (bearer !== undefined && isRunToken(bearer)) {
      c.set('runToken', runTokens.verify(bearer))
    } else if (token !== undefined && (bearer === undefined || !sameSecret(bearer, token))) {
      throw new WharfError(
        'UNAUTHENTICATED',
        header === ''
          ? 'this server requires a bearer token: set WHARF_AUTH_TOKEN (or "token" in .wharf/config.json) on the client'
          : 'the bearer token was not accepted; check WHARF_AUTH_TOKEN on the client against the server',
      )
    }
    await next()
  })

  // Every API route goes through the table: params, query and body are read with its schemas.
  const lookups = snapshotContentsCache(deps.store)
  const route = routeBinder(app, {
    ...deps,
    authorizeRunToken: (claims, request) => authorizeRunToken(claims, request, lookups),
  })
  mountMetaRoutes(app, route, deps)
  mountWorkspaceRoutes(route, deps)
  mountDatastoreRoutes(route, deps)
  mountRunRoutes(route, deps)
  mountMetricRoutes(route, deps)
  mountArtifactRoutes(route, deps)
  mountAssetRoutes(route, deps)
  mountSnapshotRoutes(route, deps)
  mountRunControlRoutes(route, { ...deps, runTokens })
  mountRunLogRoutes(route, deps)
  // The MLflow dialect of the same store: its own paths, errors in MLflow's shape.
  mountMlflow(app, deps)

  /** The one error answer; with `checkResponses` its body is checked against the contract too. */
  const errorAnswer = (error: unknown): { status: number; body: ErrorBody } => {
    const answer = toErrorResponse(error, deps)
    if (deps.checkResponses !== true) return answer
    const checked = ErrorBodySchema.safeParse(answer.body)
    if (checked.success) return answer
    return toErrorResponse(new Error(`an error answer breaks the contract's error body: ${checked.error.message}`), deps)
  }
  app.notFound((c) => {
    const { status, body } = errorAnswer(
      new WharfError('ROUTE_NOT_FOUND', `no such endpoint: ${c.req.method} ${c.req.path}; GET /api/v1/openapi.json lists them`),
    )
    return c.json(body, status as 404)
  })
  app.onError((error, c) => {
    // Not a failure of the server: one line, no stack, whatever the client's reason.
    if (isClientClosed(error))
      deps.log.info('client closed the request before sending the whole body', { method: c.req.method, path: c.req.path })
    // A refusal before an MLflow route ran (the token check, the browser guard) in the shape its clients read.
    if (isMlflowPath(c.req.path)) return mlflowErrorResponse(c, error, deps)
    const { status, body } = errorAnswer(error)
    return c.json(body, status as 400)
  })
  return app
}
