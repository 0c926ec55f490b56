import {
  ROUTES,
  NAME_RULES,
  RUN_ORDER_FIELDS,
  WharfError,
  assertMetricName,
  assertName,
  assertWithinLimit,
  hasControlChars,
  isWharfError,
  newRunId,
  printable,
  type DataReferenceConfig,
  type Limits,
  type RunOrderField,
  type RunStatus,
} from '@wharf/contract'
import { toDatastoreKey } from '@wharf/datastores'
import type { RunOrder, TagFilter } from '@wharf/store'
import type { AppDeps } from '../deps.js'
import { jsonKeepingSign } from '../http.js'
import type { BindRoute } from '../route.js'
import { readableRunName } from '../run-names.js'
import { pageSizeOf } from './paging.js'

/** A new run id (re-exported from the contract, which the SDK shares for runs logged offline). */
export { newRunId }

/** Checks tag or property keys (non-empty, printable) and the key and value length limits. */
export function assertKeyValues(what: 'tag' | 'property', entries: Record<string, string>, limits: Limits): void {
  for (const [key, value] of Object.entries(entries)) {
    if (key.length === 0 || hasControlChars(key)) {
      throw new WharfError('INVALID_ARGUMENT', `${what} key "${printable(key)}" must be non-empty printable text`, {
        details: { field: what, key: printable(key) },
      })
    }
    assertWithinLimit(limits, 'keyLength', { what: `${what} key "${printable(key, 40)}" length`, actual: key.length })
    assertWithinLimit(limits, 'valueLength', { what: `${what} "${printable(key, 40)}" value length`, actual: value.length })
  }
}

function assertRunText(limits: Limits, body: { displayName?: string | undefined; description?: string | undefined }): void {
  assertWithinLimit(limits, 'displayNameLength', { what: 'display name length', actual: body.displayName?.length ?? 0 })
  assertWithinLimit(limits, 'descriptionLength', { what: 'description length', actual: body.description?.length ?? 0 })
}

function parseTagFilters(raw: string | string[] | undefined): TagFilter[] {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  return list.map((item) => {
    const eq = item.indexOf('=')
    const filter: TagFilter = eq < 0 ? { key: item } : { key: item.slice(0, eq), value: item.slice(eq + 1) }
    if (filter.key === '') {
      throw new WharfError('INVALID_ARGUMENT', `tag filter "${printable(item)}" needs a key: use key or key=value`)
    }
    return filter
  })
}

function parseOrder(raw: string | undefined, limits: Limits): RunOrder {
  if (raw === undefined) return { kind: 'time', field: 'createdAt' }
  if (raw.startsWith('metric:')) {
    const name = raw.slice('metric:'.length)
    assertMetricName(name, limits)
    return { kind: 'metric', name }
  }
  if ((RUN_ORDER_FIELDS as readonly string[]).includes(raw)) return { kind: 'time', field: raw as RunOrderField }
  throw new WharfError(
    'INVALID_ARGUMENT',
    `cannot order runs by "${printable(raw)}"; use ${RUN_ORDER_FIELDS.join(', ')} or metric:<name>`,
    { details: { field: 'orderBy' } },
  )
}

/**
 * The data references of a definition: unique names (INVALID_ARGUMENT naming the one listed twice), and
 * each path on its datastore a safe key in the one form the runner and run tokens read it (UNSAFE_PATH):
 * relative, forward slashes, no `.` or `..` segments; a root (`/`, `.`) is the whole datastore and
 * `{runId}` stands for the run's id.
 */
function assertDataReferences(references: readonly DataReferenceConfig[]): void {
  const names = new Set<string>()
  for (const reference of references) {
    if (names.has(reference.name)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `data reference "${printable(reference.name)}" is listed twice; give each data reference its own name`,
        { details: { reference: reference.name } },
      )
    }
    names.add(reference.name)
    if (reference.pathOnDatastore === null) continue
    const path = reference.pathOnDatastore.replace(/^\/+|\/+$/g, '').replace(/^\.$/, '')
    if (path === '') continue
    const sample = path.replaceAll('{runId}', 'run-id')
    if (toDatastoreKey(sample) !== sample) {
      throw new WharfError(
        'UNSAFE_PATH',
        `data reference "${printable(reference.name)}": path "${printable(reference.pathOnDatastore)}" on datastore "${printable(reference.datastore)}" is not in canonical form; write it relative, with forward slashes and no "." or ".." segments`,
        { details: { reference: reference.name, path: reference.pathOnDatastore } },
      )
    }
  }
}

/** Runs: create, read, list, lifecycle, name and description, tags, properties. */
export function mountRunRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config } = deps
  const { limits } = config

  route(ROUTES.createRun, async ({ c, params: { workspace }, body }) => {
    assertName(body.experiment, NAME_RULES.experiment)
    if (body.runId !== undefined) assertName(body.runId, NAME_RULES.runId)
    if (body.parentRunId !== undefined) assertName(body.parentRunId, NAME_RULES.runId)
    assertRunText(limits, body)
    const tags = body.tags ?? {}
    const properties = body.properties ?? {}
    assertWithinLimit(limits, 'tagsPerRun', { what: 'the number of tags', actual: Object.keys(tags).length })
    assertWithinLimit(limits, 'propertiesPerRun', { what: 'the number of properties', actual: Object.keys(properties).length })
    assertKeyValues('tag', tags, limits)
    assertKeyValues('property', properties, limits)
    await store.getWorkspace(workspace)
    if (body.definition !== undefined) {
      // A definition naming a datastore the workspace lacks would only fail once its runner starts.
      const { dataReferences, sourceDirectoryDataStore } = body.definition
      assertDataReferences(dataReferences)
      for (const name of new Set([sourceDirectoryDataStore, ...dataReferences.map((reference) => reference.datastore)])) {
        await store.getDatastore({ workspace, name })
      }
    }
    const id = body.runId ?? newRunId()
    const now = body.startedAt ?? new Date().toISOString()
    const status: RunStatus = body.status ?? 'NotStarted'
    const created = store.createRun({
      workspace,
      experiment: body.experiment,
      id,
      // Every run gets a name people can read and say, whoever made its id (this server or a client).
      displayName: body.displayName === undefined || body.displayName === '' ? readableRunName(id) : body.displayName,
      description: body.description ?? '',
      status,
      createdAt: now,
      startedAt: status === 'Running' ? now : null,
      tags,
      properties,
      parentRunId: body.parentRunId ?? null,
      computeTarget: body.computeTarget ?? 'local',
      scriptName: body.scriptName ?? null,
      command: body.command ?? null,
      snapshotId: body.snapshotId ?? null,
      definition: body.definition ?? null,
    })
    try {
      return await created
    } catch (error) {
      // A client-made id sent again (a retried request, or `wharf sync` of an offline run replayed
      // twice) gets the run it made, so creation can be repeated safely; any other clash is refused.
      if (body.runId === undefined || !isWharfError(error) || error.code !== 'RUN_EXISTS') throw error
      const existing = await store.getRun({ workspace, runId: id })
      if (existing.experiment !== body.experiment || (existing.parentRunId ?? undefined) !== body.parentRunId) throw error
      return jsonKeepingSign(c, existing, 200)
    }
  })

  route(ROUTES.listRuns, async ({ params: { workspace }, query }) => {
    await store.getWorkspace(workspace)
    const statuses = query.status === undefined ? undefined : Array.isArray(query.status) ? query.status : [query.status]
    return store.listRuns({
      workspace,
      experiment: query.experiment,
      statuses,
      tags: parseTagFilters(query.tag),
      parentRunId: query.parentRunId,
      rootOnly: query.rootOnly === 'true',
      orderBy: parseOrder(query.orderBy, limits),
      order: query.order ?? 'desc',
      pageSize: pageSizeOf(query, limits),
      pageToken: query.pageToken,
      includeMetrics: query.includeMetrics === 'true',
    })
  })

  route(ROUTES.getRun, async ({ params }) => store.getRun({ workspace: params.workspace, runId: params.runId }))

  route(ROUTES.updateRun, async ({ params: { workspace, runId }, body }) => {
    assertRunText(limits, body)
    return store.updateRun({ workspace, runId, ...body })
  })

  route(ROUTES.setRunStatus, async ({ params: { workspace, runId }, body }) => {
    if (body.error !== undefined) {
      const { message, details = '' } = body.error
      assertWithinLimit(limits, 'errorMessageLength', { what: 'error message length', actual: message.length })
      assertWithinLimit(limits, 'errorMessageLength', { what: 'error details length', actual: details.length })
    }
    return store.transitionRun({
      workspace,
      runId,
      status: body.status,
      ...(body.error !== undefined ? { error: body.error } : {}),
      at: body.at ?? new Date().toISOString(),
    })
  })

  route(ROUTES.updateTags, async ({ params: { workspace, runId }, body }) => {
    const set = body.set ?? {}
    assertKeyValues('tag', set, limits)
    return store.updateTags({ workspace, runId, set, remove: body.remove ?? [], maxTags: limits.tagsPerRun })
  })

  route(ROUTES.addProperties, async ({ params: { workspace, runId }, body }) => {
    assertKeyValues('property', body.properties, limits)
    return store.addProperties({ workspace, runId, properties: body.properties, maxProperties: limits.propertiesPerRun })
  })
}
