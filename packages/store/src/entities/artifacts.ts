import { sql } from 'kysely'
import { isTerminalStatus } from '@wharf/contract'
import type { Artifact, Page } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { runFinished } from '../errors.js'
import type { ArtifactRef, ListArtifactsOptions, PutArtifactOptions, RecordedArtifact } from '../metadata-store.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { fromArtifact, toArtifact, toRun } from '../rows.js'
import { requireRun } from './runs.js'
import { guard, requireRunId, toPage } from './shared.js'

/**
 * Records (or replaces) an artifact of a live run and says which record it replaced, decided in the same
 * transaction; RUN_FINISHED when the run is in a terminal status at commit time.
 */
export function putArtifact(ctx: StoreDialect, options: PutArtifactOptions): Promise<RecordedArtifact> {
  const { workspace, artifact } = options
  return guard('record an artifact', () =>
    ctx.db.transaction().execute(async (trx) => {
      // A share lock on the run holds off a concurrent move to a terminal status until this commits.
      const run = await requireRun(ctx, trx, { workspace, runId: artifact.runId, share: true })
      const status = toRun(run).status
      if (isTerminalStatus(status)) throw runFinished(artifact.runId, status)
      const row = fromArtifact(artifact)
      const { run_id: _runId, path: _path, ...changes } = row
      // Insert, or else lock the row that is there and replace it: an upsert cannot say what it replaced.
      // On PostgreSQL a racing insert of the same path makes this one wait for its commit and then do
      // nothing, so the lock below always finds the row that this put replaces, and no other put does.
      const inserted = await trx
        .insertInto('artifacts')
        .values(row)
        .onConflict((oc) => oc.columns(['run_id', 'path']).doNothing())
        .executeTakeFirst()
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { artifact: toArtifact(row), replaced: undefined }
      const previous = await trx
        .selectFrom('artifacts')
        .selectAll()
        .where('run_id', '=', row.run_id)
        .where('path', '=', row.path)
        .$if(ctx.capabilities.rowLocks, (qb) => qb.forUpdate())
        .executeTakeFirstOrThrow()
      await trx.updateTable('artifacts').set(changes).where('run_id', '=', row.run_id).where('path', '=', row.path).execute()
      return { artifact: toArtifact(row), replaced: toArtifact(previous) }
    }),
  )
}

/** The artifact at `path` of the run, or undefined (also when the run is not in the workspace). */
export function findArtifact(ctx: StoreDialect, artifact: ArtifactRef): Promise<Artifact | undefined> {
  return guard('read an artifact', async () => {
    const row = await ctx.db
      .selectFrom('artifacts')
      .innerJoin('runs', 'runs.id', 'artifacts.run_id')
      .selectAll('artifacts')
      .where('runs.workspace', '=', artifact.workspace)
      .where('artifacts.run_id', '=', artifact.runId)
      .where('artifacts.path', '=', artifact.path)
      .executeTakeFirst()
    return row === undefined ? undefined : toArtifact(row)
  })
}

/** Artifacts of a run by path, filtered by a string prefix of the path, paged; RUN_NOT_FOUND. */
export function listArtifacts(ctx: StoreDialect, options: ListArtifactsOptions): Promise<Page<Artifact>> {
  return guard('list artifacts', async () => {
    await requireRunId(ctx.db, options)
    const prefix = options.prefix ?? ''
    const scope = `artifacts:${options.runId}:${prefix}`
    const after = options.pageToken === undefined ? undefined : decodePageToken(options.pageToken, scope, { path: 'string' })
    const rows = await ctx.db
      .selectFrom('artifacts')
      .selectAll()
      .where('run_id', '=', options.runId)
      .$if(prefix !== '', (qb) =>
        // The range bound lets the primary key index narrow the scan; substr is the exact test.
        qb.where('path', '>=', prefix).where(sql<boolean>`substr(path, 1, ${[...prefix].length}) = ${prefix}`),
      )
      .$if(after !== undefined, (qb) => qb.where('path', '>', after?.path ?? ''))
      .orderBy('path')
      .limit(options.pageSize + 1)
      .execute()
    return toPage(rows.map(toArtifact), options.pageSize, (last) => encodePageToken(scope, { path: last.path }))
  })
}
