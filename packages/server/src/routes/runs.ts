import type { Hono } from 'hono'
import { monotonicFactory } from 'ulid'
import {
  AddPropertiesSchema,
  CreateRunSchema,
  EXPERIMENT_NAME_PATTERN,
  ListRunsQuerySchema,
  ROUTES,
  RUN_ID_PATTERN,
  RUN_ORDER_FIELDS,
  SetRunStatusSchema,
  UpdateRunSchema,
  UpdateTagsSchema,
  WharfError,
  assertMetricName,
  assertName,
  assertWithinLimit,
  hasControlChars,
  printable,
  type Limits,
  type RunOrderField,
  type RunStatus,
} from '@wharf/contract'
import type { RunOrder, TagFilter } from '@wharf/store'
import type { AppDeps } from '../deps.js'
import { readJson, readQuery, workspaceParam, type AppContext, type AppEnv } from '../http.js'
import { pageSizeOf } from './paging.js'
import { EXPERIMENT_RULE } from './workspaces.js'

const RUN_ID_RULE = 'use letters, digits, "_", "-" or ".", starting with a letter or digit (at most 256)'
const newUlid = monotonicFactory()

/** A new run id: a ULID, so ids sort by creation time. */
export function newRunId(): string {
  return newUlid().toLowerCase()
}

/** The `:runId` path parameter, validated. */
export function runIdParam(c: AppContext): string {
  const id = c.req.param('runId') ?? ''
  assertName('run id', id, RUN_ID_PATTERN, RUN_ID_RULE)
  return id
}

function assertKeyValues(what: 'tag' | 'property', entries: Record<string, string>, limits: Limits): void {
  for (const [key, value] of Object.entries(entries)) {
    if (key.length === 0 || hasControlChars(key)) {
      throw new WharfError('INVALID_ARGUMENT', `${what} key "${printable(key)}" must be non-empty printable text`, {
        details: { field: what, key: printable(key) },
      })
    }
    assertWithinLimit(`${what} key "${printable(key, 40)}" length`, key.length, limits.keyLength, 'keyLength')
    assertWithinLimit(`${what} "${printable(key, 40)}" value length`, value.length, limits.valueLength, 'valueLength')
  }
}

function assertText(what: string, value: string | undefined, max: number, limit: 'displayNameLength' | 'descriptionLength'): void {
  if (value !== undefined) assertWithinLimit(`${what} length`, value.length, max, limit)
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

/** Runs: create, read, list, lifecycle, name and description, tags, properties. */
export function mountRunRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, config } = deps
  const { limits } = config
  const bodyLimit = limits.jsonBodyBytes

  app.post(ROUTES.createRun.path, async (c) => {
    const workspace = workspaceParam(c)
    const body = await readJson(c, CreateRunSchema, bodyLimit)
    assertName('experiment name', body.experiment, EXPERIMENT_NAME_PATTERN, EXPERIMENT_RULE)
    if (body.runId !== undefined) assertName('run id', body.runId, RUN_ID_PATTERN, RUN_ID_RULE)
    if (body.parentRunId !== undefined) assertName('parent run id', body.parentRunId, RUN_ID_PATTERN, RUN_ID_RULE)
    assertText('display name', body.displayName, limits.displayNameLength, 'displayNameLength')
    assertText('description', body.description, limits.descriptionLength, 'descriptionLength')
    const tags = body.tags ?? {}
    const properties = body.properties ?? {}
    assertWithinLimit('the number of tags', Object.keys(tags).length, limits.tagsPerRun, 'tagsPerRun')
    assertWithinLimit('the number of properties', Object.keys(properties).length, limits.propertiesPerRun, 'propertiesPerRun')
    assertKeyValues('tag', tags, limits)
    assertKeyValues('property', properties, limits)
    await store.getWorkspace(workspace)
    const id = body.runId ?? newRunId()
    const now = new Date().toISOString()
    const status: RunStatus = body.status ?? 'NotStarted'
    const run = await store.createRun({
      workspace,
      experiment: body.experiment,
      id,
      displayName: body.displayName ?? id,
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
    })
    return c.json(run, 201)
  })

  app.get(ROUTES.listRuns.path, async (c) => {
    const workspace = workspaceParam(c)
    const query = readQuery(c, ListRunsQuerySchema)
    await store.getWorkspace(workspace)
    const statuses = query.status === undefined ? undefined : Array.isArray(query.status) ? query.status : [query.status]
    return c.json(
      await store.listRuns({
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
      }),
    )
  })

  app.get(ROUTES.getRun.path, async (c) => c.json(await store.getRun(workspaceParam(c), runIdParam(c))))

  app.patch(ROUTES.updateRun.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const body = await readJson(c, UpdateRunSchema, bodyLimit)
    assertText('display name', body.displayName, limits.displayNameLength, 'displayNameLength')
    assertText('description', body.description, limits.descriptionLength, 'descriptionLength')
    return c.json(await store.updateRun(workspace, runId, body))
  })

  app.post(ROUTES.setRunStatus.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const body = await readJson(c, SetRunStatusSchema, bodyLimit)
    if (body.error !== undefined) {
      assertWithinLimit('error message length', body.error.message.length, limits.errorMessageLength, 'errorMessageLength')
      assertWithinLimit('error details length', body.error.details?.length ?? 0, limits.errorMessageLength, 'errorMessageLength')
    }
    return c.json(
      await store.transitionRun(workspace, runId, {
        status: body.status,
        ...(body.error !== undefined ? { error: body.error } : {}),
        at: new Date().toISOString(),
      }),
    )
  })

  app.patch(ROUTES.updateTags.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const body = await readJson(c, UpdateTagsSchema, bodyLimit)
    const set = body.set ?? {}
    assertKeyValues('tag', set, limits)
    return c.json(await store.updateTags(workspace, runId, { set, remove: body.remove ?? [], maxTags: limits.tagsPerRun }))
  })

  app.post(ROUTES.addProperties.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const body = await readJson(c, AddPropertiesSchema, bodyLimit)
    assertKeyValues('property', body.properties, limits)
    return c.json(
      await store.addProperties(workspace, runId, { properties: body.properties, maxProperties: limits.propertiesPerRun }),
    )
  })
}
