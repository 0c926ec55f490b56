import mime from 'mime-types'
import {
  ROUTES,
  WharfError,
  isWharfError,
  printable,
  type DatastoreFile,
  type DatastoreFilePage,
  type SkippedDatastoreFile,
} from '@wharf/contract'
import { toKeyPrefix, type DatastoreDriver, type DatastoreKey, type FileInfo, type SkippedName } from '@wharf/datastores'
import { toDatastoreView } from '@wharf/store'
import { BLOB_STORE } from '../bootstrap.js'
import { accessFor, recordForRegistration } from '../datastores.js'
import type { AppDeps } from '../deps.js'
import { jsonKeepingSign, requestBody, type AppContext } from '../http.js'
import type { BindRoute } from '../route.js'
import { pathAfter, storedFileResponse } from './file-response.js'
import { pageSizeOf } from './paging.js'
import { mayReach, reachesWholeDatastore } from '../run-token.js'

const CONTENT_MARK = '/files/content/'

function fileView(info: FileInfo): DatastoreFile {
  return {
    path: info.key,
    size: info.size,
    modifiedAt: info.modifiedAt,
    ...(info.contentMd5 !== undefined ? { contentMd5: info.contentMd5 } : {}),
  }
}

function noSuchFile(datastore: string, key: string): WharfError {
  return new WharfError(
    'FILE_NOT_FOUND',
    `datastore "${datastore}" has no file "${printable(key)}"; list them with wharf datastore ls ${datastore}`,
    {
      details: { path: key },
    },
  )
}

/** Registration, default, unregistration, delegated access and the file routes of datastores. */
export function mountDatastoreRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config, drivers } = deps
  const { limits } = config

  const filePath = (c: AppContext) => pathAfter(c, { mark: CONTENT_MARK, what: 'file path', limits })

  route(ROUTES.registerDatastore, async ({ c, params, body: request }) => {
    const workspace = await store.getWorkspace(params.workspace)
    const existing = await store.findDatastore({ workspace: workspace.name, name: request.name })
    if (existing && request.overwrite !== true) {
      throw new WharfError(
        'DATASTORE_EXISTS',
        `datastore "${request.name}" is already registered in workspace "${workspace.name}"; pass overwrite to replace it (this is how keys are rotated)`,
      )
    }
    const record = await recordForRegistration(workspace.name, request, deps.datastores)
    const stored = await store.putDatastore(existing ? { ...record, createdAt: existing.createdAt } : record, {
      overwrite: request.overwrite === true,
    })
    deps.log.info('datastore registered', {
      workspace: workspace.name,
      name: stored.name,
      kind: stored.kind,
      replaced: existing !== undefined,
    })
    const view = toDatastoreView(stored, workspace)
    return existing ? jsonKeepingSign(c, view, 200) : view
  })

  route(ROUTES.unregisterDatastore, async ({ params }) => {
    const workspace = await store.getWorkspace(params.workspace)
    const name = params.datastore
    await store.getDatastore({ workspace: workspace.name, name })
    if (name === BLOB_STORE) {
      throw new WharfError('FORBIDDEN', `"${BLOB_STORE}" holds the workspace's artifacts and cannot be unregistered`)
    }
    if (name === workspace.artifactDatastore) {
      throw new WharfError('FORBIDDEN', `"${name}" holds the workspace's artifacts and cannot be unregistered`)
    }
    if (name === workspace.defaultDatastore) {
      throw new WharfError(
        'FORBIDDEN',
        `"${name}" is the default datastore of workspace "${workspace.name}"; make another one the default first (wharf datastore set-default <name>)`,
      )
    }
    await store.deleteDatastore({ workspace: workspace.name, name })
    deps.log.info('datastore unregistered', { workspace: workspace.name, name })
    return { name, unregistered: true as const }
  })

  route(ROUTES.setDefaultDatastore, async ({ params, body }) =>
    store.setDefaultDatastore({ workspace: params.workspace, name: body.name }),
  )

  route(ROUTES.datastoreAccess, async ({ c, params, body }) => {
    const record = await store.getDatastore({ workspace: params.workspace, name: params.datastore })
    // A run token reaching only a path of the datastore gets no SAS or folder (they reach all of it): its
    // bytes go through the file routes, which hold it to that path.
    const claims = c.get('runToken')
    if (claims !== undefined && !reachesWholeDatastore(claims, params.datastore, body.operation))
      return { mode: 'proxy' as const }
    return accessFor(record, body.operation, deps.datastores)
  })

  route(ROUTES.listDatastoreFiles, async ({ c, params, query }) => {
    const driver = await drivers.get(params.workspace, params.datastore)
    const prefix = query.prefix === undefined || query.prefix === '' ? undefined : toKeyPrefix(query.prefix)
    const skipped: SkippedDatastoreFile[] = []
    const onSkipped = ({ name, size, modifiedAt, reason }: SkippedName): void =>
      void skipped.push({ path: name, size, modifiedAt, reason })
    const pages = driver
      .list({ onSkipped, ...(prefix === undefined ? {} : { prefix }) })
      .byPage({ pageSize: pageSizeOf(query, limits), ...(query.pageToken ? { pageToken: query.pageToken } : {}) })
    let answer: DatastoreFilePage = { items: [] }
    for await (const page of pages) {
      answer = { items: page.items.map(fileView), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) }
      break
    }
    // A run token sees only the files it may read (a string prefix can reach past its folder).
    const claims = c.get('runToken')
    if (claims !== undefined) {
      const readable = (key: string) => mayReach(claims, { datastore: params.datastore, key }, 'read')
      answer = { ...answer, items: answer.items.filter((item) => readable(item.path)) }
      const kept = skipped.filter((item) => readable(item.path))
      return kept.length > 0 ? { ...answer, skipped: kept } : answer
    }
    return skipped.length > 0 ? { ...answer, skipped } : answer
  })

  /** Streams the request body to `key`; with `ifNotExists` the storage itself refuses a file that is there. */
  const storeUpload = async (c: AppContext, target: { driver: DatastoreDriver; key: DatastoreKey; ifNotExists: boolean }) => {
    const { driver, key } = target
    const declaredHeader = c.req.header('content-length')
    const declared = declaredHeader === undefined ? undefined : Number(declaredHeader)
    const body = requestBody(c)
    const declaredType = c.req.header('content-type')
    const contentType =
      declaredType && !/^application\/octet-stream\b/i.test(declaredType)
        ? declaredType
        : mime.lookup(key) || 'application/octet-stream'
    const stored = await driver.put(key, body, {
      ...(declared !== undefined && Number.isSafeInteger(declared) ? { size: declared } : {}),
      contentType,
      ifNotExists: target.ifNotExists,
    })
    return { path: key, ...stored }
  }

  route(ROUTES.uploadDatastoreFile, async ({ c, params: { workspace, datastore: name }, query }) => {
    const driver = await drivers.get(workspace, name)
    const key = filePath(c)
    if (query.overwrite === 'true') return storeUpload(c, { driver, key, ifNotExists: false })
    const exists = (cause?: unknown) =>
      new WharfError(
        'FILE_EXISTS',
        `"${printable(key)}" already exists in datastore "${name}"; upload with overwrite=true to replace it`,
        {
          details: { path: key },
          ...(cause === undefined ? {} : { cause }),
        },
      )
    // Refused before the body is read when the file is plainly there. The conditional write decides the
    // race: writers on any replica (or beside Wharf) cannot both succeed (decision 0016).
    if (await driver.stat(key)) throw exists()
    try {
      return await storeUpload(c, { driver, key, ifNotExists: true })
    } catch (error) {
      throw isWharfError(error, 'FILE_EXISTS') ? exists(error) : error
    }
  })

  route(ROUTES.downloadDatastoreFile, async ({ c, params: { workspace, datastore: name } }) => {
    const driver = await drivers.get(workspace, name)
    const key = filePath(c)
    const info = await driver.stat(key)
    if (!info) throw noSuchFile(name, key)
    return storedFileResponse(c, {
      driver,
      file: {
        key,
        size: info.size,
        contentType: mime.lookup(key) || 'application/octet-stream',
        ...(info.contentMd5 !== undefined ? { contentMd5: info.contentMd5 } : {}),
      },
    })
  })

  route(ROUTES.deleteDatastoreFile, async ({ c, params: { workspace, datastore: name } }) => {
    const driver = await drivers.get(workspace, name)
    const key = filePath(c)
    // The drivers' delete resolves for a missing key (so retries are safe); the caller is told instead.
    if (!(await driver.stat(key))) throw noSuchFile(name, key)
    await driver.delete(key)
    return { path: key, deleted: true as const }
  })
}
