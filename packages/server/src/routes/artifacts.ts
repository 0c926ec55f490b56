import { Readable, Transform } from 'node:stream'
import type { Hono } from 'hono'
import mime from 'mime-types'
import {
  ListArtifactsQuerySchema,
  ROUTES,
  WharfError,
  assertWithinLimit,
  isTerminalStatus,
  printable,
  type Artifact,
  type Limits,
} from '@wharf/contract'
import { joinKey, toDatastoreKey, toKeyPrefix } from '@wharf/datastores'
import type { AppDeps } from '../deps.js'
import { incomingOf, readQuery, workspaceParam, type AppContext, type AppEnv } from '../http.js'
import { pageSizeOf } from './paging.js'
import { runIdParam } from './runs.js'

const CONTENT_MARK = '/artifacts/content/'

/** Where a run's artifact bytes live inside the artifact datastore. */
export function artifactKey(runId: string, path: string): string {
  return joinKey('ExperimentRun', runId, path)
}

/** The artifact path after `/artifacts/content/`, decoded segment by segment and checked for safety. */
function artifactPathParam(c: AppContext, limits: Pick<Limits, 'artifactPathLength'>): string {
  const pathname = new URL(c.req.url).pathname
  const at = pathname.indexOf(CONTENT_MARK)
  const encoded = at < 0 ? '' : pathname.slice(at + CONTENT_MARK.length)
  let decoded: string
  try {
    decoded = encoded.split('/').map(decodeURIComponent).join('/')
  } catch (cause) {
    throw new WharfError('INVALID_ARGUMENT', `the artifact path "${printable(encoded)}" is not valid URL encoding`, { cause })
  }
  assertWithinLimit(limits, 'artifactPathLength', { what: 'the artifact path length', actual: decoded.length })
  return toDatastoreKey(decoded)
}

/** Parses a single `bytes=` range against a size; undefined for none or for forms we answer in full. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match) return undefined // several ranges or another unit: RFC 9110 lets us send the whole body
  const [, from = '', to = ''] = match
  if (from === '' && to === '') return undefined
  let start: number
  let end: number
  if (from === '') {
    const suffix = Number(to)
    if (suffix === 0) throw unsatisfiable(header, size)
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(from)
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1)
  }
  if (start >= size || start > end) throw unsatisfiable(header, size)
  return { start, end }
}

function unsatisfiable(header: string, size: number): WharfError {
  return new WharfError('RANGE_NOT_SATISFIABLE', `range "${printable(header)}" is outside the artifact (${size} bytes)`, {
    details: { size },
  })
}

function capStream(max: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > max) {
        done(
          new WharfError(
            'PAYLOAD_TOO_LARGE',
            `the artifact is larger than ${max} bytes (server limit "artifactBytes")`,
            { details: { limit: 'artifactBytes', max } },
          ),
        )
        return
      }
      done(null, chunk)
    },
  })
}

function contentTypeFor(path: string, declared: string | undefined): string {
  if (declared && !/^application\/octet-stream\b/i.test(declared) && !/^application\/x-www-form/i.test(declared)) return declared
  return mime.lookup(path) || 'application/octet-stream'
}

/** Artifacts: streamed upload, listing by prefix, streamed download with ranges. */
export function mountArtifactRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  app.get(ROUTES.listArtifacts.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const query = readQuery(c, ListArtifactsQuerySchema)
    const prefix = query.prefix === undefined || query.prefix === '' ? undefined : toKeyPrefix(query.prefix)
    return c.json(
      await store.listArtifacts(workspace, runId, {
        ...(prefix !== undefined ? { prefix } : {}),
        pageSize: pageSizeOf(query, limits),
        pageToken: query.pageToken,
      }),
    )
  })

  app.put(ROUTES.uploadArtifact.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const path = artifactPathParam(c, limits)
    const run = await store.getRun(workspace, runId)
    if (isTerminalStatus(run.status)) {
      throw new WharfError(
        'RUN_FINISHED',
        `run "${runId}" is ${run.status}; the artifacts of a finished run never change. Log to a new run instead`,
        { details: { status: run.status } },
      )
    }
    const declaredHeader = c.req.header('content-length')
    const declared = declaredHeader === undefined ? undefined : Number(declaredHeader)
    if (declared !== undefined) {
      assertWithinLimit(limits, 'artifactBytes', { what: 'the artifact size in bytes', actual: declared })
    }
    const ws = await store.getWorkspace(workspace)
    const driver = await drivers.get(workspace, ws.artifactDatastore)
    const incoming = incomingOf(c)
    const source =
      incoming ?? (c.req.raw.body ? Readable.fromWeb(c.req.raw.body) : Readable.from([]))
    const body = declared === undefined ? source.pipe(capStream(limits.artifactBytes)) : source
    if (body !== source) source.on('error', (error) => body.destroy(error))
    const key = toDatastoreKey(artifactKey(runId, path))
    const contentType = contentTypeFor(path, c.req.header('content-type'))
    const stored = await driver.put(key, body, {
      ...(declared !== undefined ? { size: declared } : {}),
      contentType,
    })
    const artifact: Artifact = {
      runId,
      path,
      size: stored.size,
      sha256: stored.sha256,
      contentType,
      createdAt: new Date().toISOString(),
      datastore: ws.artifactDatastore,
      key,
    }
    return c.json(await store.putArtifact(workspace, artifact), 201)
  })

  app.get(ROUTES.downloadArtifact.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const path = artifactPathParam(c, limits)
    const artifact = await store.findArtifact(workspace, runId, path)
    if (!artifact) {
      await store.getRun(workspace, runId)
      throw new WharfError(
        'ARTIFACT_NOT_FOUND',
        `run "${runId}" has no artifact "${printable(path)}"; list them with GET .../runs/${runId}/artifacts`,
      )
    }
    const range = parseRange(c.req.header('range'), artifact.size)
    const driver = await drivers.get(workspace, artifact.datastore)
    const headers: Record<string, string> = {
      'content-type': artifact.contentType,
      'accept-ranges': 'bytes',
      etag: `"${artifact.sha256}"`,
      'x-wharf-sha256': artifact.sha256,
    }
    if (c.req.method === 'HEAD') {
      headers['content-length'] = String(artifact.size)
      return new Response(null, { status: 200, headers })
    }
    const stream = await driver.get(toDatastoreKey(artifact.key), range ? { range } : {})
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${artifact.size}`
      headers['content-length'] = String(range.end - range.start + 1)
    } else {
      headers['content-length'] = String(artifact.size)
    }
    return new Response(Readable.toWeb(stream) as ReadableStream, { status: range ? 206 : 200, headers })
  })
}
