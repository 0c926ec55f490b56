import {
  WharfError,
  assertWithinLimit,
  printable,
  type AssetAlias,
  type AssetSummary,
  type AssetVersion,
  type Page,
} from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { assetAliasNotFound, assetNotFound, workspaceNotFound } from '../errors.js'
import type {
  AssetAliasRef,
  AssetVersionChange,
  AssetVersionSelector,
  AssetVersionRef,
  NewAssetAlias,
  ListAssetVersionsOptions,
  NewAssetVersion,
  WorkspaceItemRef,
  WorkspacePageRequest,
} from '../metadata-store.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { parseStringMap, stringifyStringMap, toAssetFile, toAssetVersion } from '../rows.js'
import { guard, requireRunId, requireWorkspace, toPage } from './shared.js'
import type { Db } from './shared.js'

/**
 * The highest version number a store column holds (a 32-bit integer on PostgreSQL). A higher number
 * asked for cannot exist, and is answered as such without a query the engine would refuse.
 */
const MAX_VERSION = 2_147_483_647

/** Rows per INSERT of asset files: 7 columns each stays far below every engine's bound-parameter cap. */
const FILE_ROWS_PER_INSERT = 500

/** Orders strings by code point (UTF-8 byte order), as the key columns compare on every engine. */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** The versions of one asset, to select from. */
function versionsOf(db: Db, asset: WorkspaceItemRef) {
  return db.selectFrom('asset_versions').where((eb) => eb.and({ workspace: asset.workspace, name: asset.name }))
}

async function assetExists(db: Db, asset: WorkspaceItemRef): Promise<boolean> {
  return (await versionsOf(db, asset).select('id').limit(1).executeTakeFirst()) !== undefined
}

/**
 * Stores the next version of asset `name` (one past its highest, 1 for a new name) with its files, in one
 * transaction; versions stay consecutive under concurrency. WORKSPACE_NOT_FOUND; RUN_NOT_FOUND.
 */
export function createAssetVersion(ctx: StoreDialect, input: NewAssetVersion): Promise<AssetVersion> {
  return guard('create an asset version', () =>
    ctx.db.transaction().execute(async (trx) => {
      // Locking the workspace row serialises promotes within a workspace, so max+1 cannot be read by
      // two transactions at once (SQLite already holds its write lock from BEGIN IMMEDIATE). A NO KEY
      // UPDATE lock does not block the key-share locks that inserting runs and metrics take.
      const workspace = await trx
        .selectFrom('workspaces')
        .select('name')
        .where('name', '=', input.workspace)
        .$if(ctx.capabilities.rowLocks, (qb) => qb.forNoKeyUpdate())
        .executeTakeFirst()
      if (workspace === undefined) throw workspaceNotFound(input.workspace)
      await requireRunId(trx, { workspace: input.workspace, runId: input.sourceRunId })
      const highest = await versionsOf(trx, input)
        .select((eb) => eb.fn.max('version').as('version'))
        .executeTakeFirst()
      const row = {
        workspace: input.workspace,
        name: input.name,
        version: Number(highest?.version ?? 0) + 1,
        description: input.description,
        tags: stringifyStringMap(input.tags),
        source_run_id: input.sourceRunId,
        artifact_path: input.artifactPath,
        copied: input.copied ? 1 : 0,
        file_count: input.files.length,
        size: input.files.reduce((sum, file) => sum + file.size, 0),
        created_at: input.createdAt,
      }
      const { id } = await trx.insertInto('asset_versions').values(row).returning('id').executeTakeFirstOrThrow()
      const files = [...input.files].sort((a, b) => compareCodePoints(a.path, b.path))
      for (let at = 0; at < files.length; at += FILE_ROWS_PER_INSERT) {
        await trx
          .insertInto('asset_files')
          .values(
            files.slice(at, at + FILE_ROWS_PER_INSERT).map((file) => ({
              asset_version_id: Number(id),
              path: file.path,
              size: file.size,
              sha256: file.sha256,
              content_type: file.contentType,
              datastore: file.datastore,
              key: file.key,
            })),
          )
          .execute()
      }
      return toAssetVersion({ id: Number(id), ...row }, files)
    }),
  )
}

/** The number an alias points at, or undefined; ASSET_ALIAS_NOT_FOUND when only the alias is missing. */
async function versionOfAlias(db: Db, alias: AssetAliasRef): Promise<number | undefined> {
  const row = await db
    .selectFrom('asset_aliases')
    .select('version')
    .where((eb) => eb.and({ workspace: alias.workspace, name: alias.name, alias: alias.alias }))
    .executeTakeFirst()
  if (row !== undefined) return Number(row.version)
  if (await assetExists(db, alias)) throw assetAliasNotFound(alias.workspace, alias.name, alias.alias)
  return undefined
}

/**
 * One version with its files by path, the highest with `'latest'`, or the one an alias points at;
 * ASSET_NOT_FOUND, ASSET_ALIAS_NOT_FOUND, WORKSPACE_NOT_FOUND.
 */
export function getAssetVersion(ctx: StoreDialect, asset: AssetVersionRef): Promise<AssetVersion> {
  return guard('read an asset version', async () => {
    const { version: asked } = asset
    const version = typeof asked === 'object' ? await versionOfAlias(ctx.db, { ...asset, alias: asked.alias }) : asked
    const row =
      version === undefined || (typeof version === 'number' && version > MAX_VERSION)
        ? undefined
        : await versionsOf(ctx.db, asset)
            .selectAll()
            .$if(version !== 'latest', (qb) => qb.where('version', '=', version === 'latest' ? 0 : version))
            .orderBy('version', 'desc')
            .limit(1)
            .executeTakeFirst()
    if (row === undefined) {
      await requireWorkspace(ctx.db, asset.workspace)
      const exists = await assetExists(ctx.db, asset)
      throw assetNotFound(asset.workspace, asset.name, exists ? asked : undefined)
    }
    const files = await ctx.db
      .selectFrom('asset_files')
      .selectAll()
      .where('asset_version_id', '=', Number(row.id))
      .orderBy('path')
      .execute()
    return toAssetVersion(row, files.map(toAssetFile))
  })
}

/** ASSET_NOT_FOUND (or WORKSPACE_NOT_FOUND) unless the asset has a version. */
async function requireAsset(db: Db, asset: WorkspaceItemRef): Promise<void> {
  if (await assetExists(db, asset)) return
  await requireWorkspace(db, asset.workspace)
  throw assetNotFound(asset.workspace, asset.name)
}

function toAssetAlias(row: { name: string; alias: string; version: number | string; updated_at: string }): AssetAlias {
  return { name: row.name, alias: row.alias, version: Number(row.version), updatedAt: row.updated_at }
}

/**
 * Points an alias at an existing version, making or moving it, in one transaction under the workspace
 * row's lock (SQLite: its write lock from BEGIN IMMEDIATE). ASSET_NOT_FOUND; LIMIT_EXCEEDED for a new
 * alias past `maxAliases` (moving one never counts); with `ownerRunId`, FORBIDDEN unless the version, and
 * the one the alias points at now, were made from that run.
 */
export function setAssetAlias(ctx: StoreDialect, input: NewAssetAlias): Promise<AssetAlias> {
  return guard('set an asset alias', async () => {
    const row = {
      workspace: input.workspace,
      name: input.name,
      alias: input.alias,
      version: input.version,
      updated_at: input.updatedAt,
    }
    await ctx.db.transaction().execute(async (trx) => {
      await trx
        .selectFrom('workspaces')
        .select('name')
        .where('name', '=', input.workspace)
        .$if(ctx.capabilities.rowLocks, (qb) => qb.forNoKeyUpdate())
        .executeTakeFirst()
      const target =
        input.version > MAX_VERSION
          ? undefined
          : await versionsOf(trx, input).select('source_run_id').where('version', '=', input.version).executeTakeFirst()
      if (target === undefined) {
        await requireAsset(trx, input)
        throw assetNotFound(input.workspace, input.name, input.version)
      }
      const current = await trx
        .selectFrom('asset_aliases as a')
        .innerJoin('asset_versions as v', (join) =>
          join.onRef('v.workspace', '=', 'a.workspace').onRef('v.name', '=', 'a.name').onRef('v.version', '=', 'a.version'),
        )
        .select(['a.version', 'v.source_run_id'])
        .where((eb) => eb.and({ 'a.workspace': input.workspace, 'a.name': input.name, 'a.alias': input.alias }))
        .executeTakeFirst()
      if (input.ownerRunId !== undefined) {
        const foreign =
          target.source_run_id !== input.ownerRunId
            ? `version ${input.version}`
            : current !== undefined && current.source_run_id !== input.ownerRunId
              ? `version ${current.version}, where it points now,`
              : undefined
        if (foreign !== undefined) throw aliasNotOwned(input, foreign)
      }
      if (current === undefined && input.maxAliases !== undefined) {
        const existing = await trx
          .selectFrom('asset_aliases')
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .where((eb) => eb.and({ workspace: input.workspace, name: input.name }))
          .executeTakeFirstOrThrow()
        assertWithinLimit({ aliasesPerAsset: input.maxAliases }, 'aliasesPerAsset', {
          what: `the number of aliases of asset "${printable(input.name)}"`,
          actual: Number(existing.count) + 1,
        })
      }
      // Versions are never removed, so the one checked above still exists when the upsert runs.
      await trx
        .insertInto('asset_aliases')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['workspace', 'name', 'alias']).doUpdateSet({ version: row.version, updated_at: row.updated_at }),
        )
        .execute()
    })
    return toAssetAlias(row)
  })
}

function aliasNotOwned(input: NewAssetAlias, foreign: string): WharfError {
  return new WharfError(
    'FORBIDDEN',
    `a run token can point an alias only at a version made from its own run, and move only an alias that points at one; ` +
      `${foreign} of asset "${printable(input.name)}" was made by another run. Use the server's token to move alias "${printable(input.alias)}"`,
    { details: { asset: input.name, alias: input.alias } },
  )
}

/** The number `selector` names now (read inside the caller's transaction); undefined when there is none. */
async function resolveVersion(trx: Db, ref: WorkspaceItemRef & { version: AssetVersionSelector }): Promise<number | undefined> {
  const { version } = ref
  if (typeof version === 'number') return version > MAX_VERSION ? undefined : version
  if (version === 'latest') {
    const highest = await versionsOf(trx, ref)
      .select((eb) => eb.fn.max('version').as('version'))
      .executeTakeFirst()
    return highest?.version === null || highest?.version === undefined ? undefined : Number(highest.version)
  }
  return versionOfAlias(trx, { ...ref, alias: version.alias })
}

/**
 * Changes a version's description and tags in one transaction, the version named (by number, `latest`
 * or alias) resolved inside it, so an alias moved meanwhile is not edited at its old version. A tag
 * count past `maxTags` is refused only when the change adds tags: a version already over (the limit
 * lowered since) can still lose tags and change its description. ASSET_NOT_FOUND; ASSET_ALIAS_NOT_FOUND.
 */
export function updateAssetVersion(ctx: StoreDialect, change: AssetVersionChange): Promise<AssetVersion> {
  return guard('update an asset version', async () => {
    const edited = await ctx.db.transaction().execute(async (trx) => {
      const number = await resolveVersion(trx, change)
      const row =
        number === undefined
          ? undefined
          : await versionsOf(trx, change)
              .select(['id', 'tags'])
              .where('version', '=', number)
              .$if(ctx.capabilities.rowLocks, (qb) => qb.forNoKeyUpdate())
              .executeTakeFirst()
      if (number === undefined || row === undefined) {
        await requireAsset(trx, change)
        throw assetNotFound(change.workspace, change.name, change.version)
      }
      const tags = parseStringMap(row.tags)
      const before = tags.size
      for (const [key, value] of Object.entries(change.setTags ?? {})) tags.set(key, value)
      for (const key of change.removeTags ?? []) tags.delete(key)
      if (tags.size > before) {
        assertWithinLimit({ tagsPerRun: change.maxTags }, 'tagsPerRun', {
          what: `the number of tags on version ${number} of asset "${printable(change.name)}"`,
          actual: tags.size,
        })
      }
      await trx
        .updateTable('asset_versions')
        .set({
          tags: stringifyStringMap(tags),
          ...(change.description === undefined ? {} : { description: change.description }),
        })
        .where('id', '=', Number(row.id))
        .execute()
      return number
    })
    return getAssetVersion(ctx, { ...change, version: edited })
  })
}

/** Removes an alias; false when there was none. ASSET_NOT_FOUND when the asset does not exist. */
export function deleteAssetAlias(ctx: StoreDialect, alias: AssetAliasRef): Promise<boolean> {
  return guard('delete an asset alias', async () => {
    await requireAsset(ctx.db, alias)
    const result = await ctx.db
      .deleteFrom('asset_aliases')
      .where((eb) => eb.and({ workspace: alias.workspace, name: alias.name, alias: alias.alias }))
      .executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  })
}

/** The aliases of an asset by alias name; ASSET_NOT_FOUND. */
export function listAssetAliases(ctx: StoreDialect, asset: WorkspaceItemRef): Promise<AssetAlias[]> {
  return guard('list asset aliases', async () => {
    await requireAsset(ctx.db, asset)
    const rows = await ctx.db
      .selectFrom('asset_aliases')
      .selectAll()
      .where((eb) => eb.and({ workspace: asset.workspace, name: asset.name }))
      .orderBy('alias')
      .execute()
    return rows.map(toAssetAlias)
  })
}

/** Assets by name, each with its latest version, paged; WORKSPACE_NOT_FOUND. */
export function listAssets(ctx: StoreDialect, page: WorkspacePageRequest): Promise<Page<AssetSummary>> {
  const { workspace } = page
  return guard('list assets', async () => {
    await requireWorkspace(ctx.db, workspace)
    const after = page.pageToken === undefined ? undefined : decodePageToken(page.pageToken, 'assets', { name: 'string' })
    const latest = ctx.db
      .selectFrom('asset_versions')
      .select((eb) => ['name', eb.fn.max('version').as('latest'), eb.fn.countAll<number>().as('count')])
      .where('workspace', '=', workspace)
      .$if(after !== undefined, (qb) => qb.where('name', '>', after?.name ?? ''))
      .groupBy('name')
      .as('latest')
    const rows = await ctx.db
      .selectFrom('asset_versions as v')
      .innerJoin(latest, (join) => join.onRef('latest.name', '=', 'v.name').onRef('latest.latest', '=', 'v.version'))
      .select(['v.name', 'v.version', 'v.description', 'v.created_at', 'latest.count'])
      .where('v.workspace', '=', workspace)
      .orderBy('v.name')
      .limit(page.pageSize + 1)
      .execute()
    const summaries = rows.map((row): AssetSummary => ({
      name: row.name,
      latestVersion: Number(row.version),
      versionCount: Number(row.count),
      description: row.description,
      updatedAt: row.created_at,
    }))
    return toPage(summaries, page.pageSize, (last) => encodePageToken('assets', { name: last.name }))
  })
}

/** Versions of one asset newest first, without their files (`files` is empty), paged; ASSET_NOT_FOUND. */
export function listAssetVersions(ctx: StoreDialect, options: ListAssetVersionsOptions): Promise<Page<AssetVersion>> {
  return guard('list asset versions', async () => {
    const scope = `asset-versions:${options.name}`
    const after = options.pageToken === undefined ? undefined : decodePageToken(options.pageToken, scope, { version: 'number' })
    const rows = await versionsOf(ctx.db, options)
      .selectAll()
      .$if(after !== undefined, (qb) => qb.where('version', '<', after?.version ?? 0))
      .orderBy('version', 'desc')
      .limit(options.pageSize + 1)
      .execute()
    if (rows.length === 0 && !(await assetExists(ctx.db, options))) {
      await requireWorkspace(ctx.db, options.workspace)
      throw assetNotFound(options.workspace, options.name)
    }
    return toPage(
      rows.map((row) => toAssetVersion(row, [])),
      options.pageSize,
      (last) => encodePageToken(scope, { version: last.version }),
    )
  })
}
