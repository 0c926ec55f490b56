import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs'
import { copyFile, mkdir, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { WharfClient } from '@wharf/client'
import { WharfError, isTerminalStatus, isWharfError, printable, type RunError, type RunStatus } from '@wharf/contract'
import { listLocalFiles, toDatastoreKey } from '@wharf/datastores'
import { retryRequest, type RetryPolicy } from '../retry.js'
import { uploadArtifactFile } from '../data/transfer.js'

/**
 * The parts of a run's life kept on disk while the server could not be reached, next to its metric
 * spool files: `<spoolDir>/runs/<runId>/run.jsonl` (one record a line, in the order they happened)
 * and `files/` (copies of its artifacts). `wharf sync` creates the run, sends its metric batches,
 * uploads the files and sets the final status, in that order.
 */
const RUNS_FOLDER = 'runs'
const RECORDS_FILE = 'run.jsonl'
const FILES_FOLDER = 'files'
/** Version of the records in run.jsonl (metric batch lines are version 1). */
const RUN_RECORD_VERSION = 2

/** A run started while the server was unreachable, as `wharf sync` will create it. */
export interface SpooledRunCreation {
  runId: string
  workspace: string
  experiment: string
  displayName?: string
  description?: string
  tags?: Record<string, string>
  scriptName?: string
  /** ISO time the run started on this machine. */
  startedAt: string
}

/** How a run ended, kept until the server can be told. */
export interface SpooledRunEnding {
  status: RunStatus
  error?: RunError
  /** ISO time the run ended on this machine. */
  at: string
}

type RunRecord =
  | ({ kind: 'create' } & SpooledRunCreation)
  | { kind: 'artifact'; runId: string; workspace: string; path: string }
  | ({ kind: 'end'; runId: string; workspace: string } & SpooledRunEnding)

/** The records of one spooled run, read back. */
export interface SpooledRun {
  runId: string
  workspace: string
  folder: string
  creation: SpooledRunCreation | undefined
  artifacts: string[]
  ending: SpooledRunEnding | undefined
}

/** The folder holding what is spooled of run `runId` besides its metrics. */
export function spooledRunFolder(target: { spoolDir: string; runId: string }): string {
  return path.join(target.spoolDir, RUNS_FOLDER, encodeURIComponent(target.runId))
}

function appendRecord(target: { spoolDir: string; runId: string }, record: RunRecord): void {
  const folder = spooledRunFolder(target)
  mkdirSync(folder, { recursive: true })
  const fd = openSync(path.join(folder, RECORDS_FILE), 'a')
  try {
    appendFileSync(fd, `${JSON.stringify({ v: RUN_RECORD_VERSION, ...record })}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Records (fsynced) that a run was started offline. Throws the I/O error when the disk refuses. */
export function spoolRunCreation(options: { spoolDir: string; creation: SpooledRunCreation }): void {
  appendRecord({ spoolDir: options.spoolDir, runId: options.creation.runId }, { kind: 'create', ...options.creation })
}

/** Records (fsynced) how a run ended. Throws the I/O error when the disk refuses. */
export function spoolRunEnding(options: { spoolDir: string; runId: string; workspace: string; ending: SpooledRunEnding }): void {
  appendRecord(options, { kind: 'end', runId: options.runId, workspace: options.workspace, ...options.ending })
}

/** Keeps `content` as the artifact `artifactPath` of the run, for `wharf sync` to upload. */
export async function spoolRunArtifact(options: {
  spoolDir: string
  runId: string
  workspace: string
  artifactPath: string
  content: string | Uint8Array
}): Promise<void> {
  const key = toDatastoreKey(options.artifactPath)
  const file = path.join(spooledRunFolder(options), FILES_FOLDER, ...key.split('/'))
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, options.content, { flush: true })
  appendRecord(options, { kind: 'artifact', runId: options.runId, workspace: options.workspace, path: key })
}

/**
 * Copies every file under `folder` into the spool as the artifacts `<name>/<relative path>` (the
 * folder may be gone or changed by the time the server is back). Returns how many files.
 */
export async function spoolRunFolder(options: {
  spoolDir: string
  runId: string
  workspace: string
  name: string
  folder: string
}): Promise<number> {
  const isFolder = await stat(options.folder).then(
    (info) => info.isDirectory(),
    () => false,
  )
  if (!isFolder) return 0
  const files = await listLocalFiles(options.folder)
  const prefix = options.name.replace(/\/+$/, '')
  for (const file of files) {
    const key = toDatastoreKey(prefix ? `${prefix}/${file.relativePath}` : file.relativePath)
    const target = path.join(spooledRunFolder(options), FILES_FOLDER, ...key.split('/'))
    await mkdir(path.dirname(target), { recursive: true })
    await copyFile(file.localPath, target)
    appendRecord(options, { kind: 'artifact', runId: options.runId, workspace: options.workspace, path: key })
  }
  return files.length
}

function parseRecord(text: string): RunRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<RunRecord> & { v?: unknown }
    if (typeof value !== 'object' || value === null || typeof value.runId !== 'string') return undefined
    if (value.kind === 'create' || value.kind === 'artifact' || value.kind === 'end') return value as RunRecord
  } catch {
    // A line torn by a crash: the records before it still hold.
  }
  return undefined
}

/** Every spooled run in `spoolDir` (none when the folder has no `runs/`). */
export async function readSpooledRuns(spoolDir: string, warn: (message: string) => void): Promise<SpooledRun[]> {
  const root = path.join(spoolDir, RUNS_FOLDER)
  let names: string[]
  try {
    names = (await readdir(root)).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const runs: SpooledRun[] = []
  for (const name of names) {
    const folder = path.join(root, name)
    let text: string
    try {
      text = await readFile(path.join(folder, RECORDS_FILE), 'utf8')
    } catch {
      continue
    }
    let run: SpooledRun | undefined
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      const record = parseRecord(line)
      if (record === undefined) {
        warn(`skipped an unreadable line in ${path.join(folder, RECORDS_FILE)}`)
        continue
      }
      run ??= { runId: record.runId, workspace: record.workspace, folder, creation: undefined, artifacts: [], ending: undefined }
      if (record.kind === 'create') {
        const { runId, workspace, experiment, displayName, description, tags, scriptName, startedAt } = record
        run.creation = { runId, workspace, experiment, startedAt, ...{ displayName, description, tags, scriptName } }
      } else if (record.kind === 'artifact') {
        if (!run.artifacts.includes(record.path)) run.artifacts.push(record.path)
      } else {
        run.ending = { status: record.status, at: record.at, ...(record.error !== undefined ? { error: record.error } : {}) }
      }
    }
    if (run !== undefined) runs.push(run)
  }
  return runs
}

/** Creates a spooled run on the server; creating it again (a second sync) returns the same run. */
export async function createSpooledRun(
  run: SpooledRun,
  context: { client: WharfClient; policy: RetryPolicy; signal?: AbortSignal },
): Promise<void> {
  const creation = run.creation
  if (creation === undefined) return
  const call = context.signal ? { signal: context.signal } : {}
  await retryRequest(
    () =>
      context.client.createRun(
        {
          experiment: creation.experiment,
          runId: creation.runId,
          status: 'Running',
          startedAt: creation.startedAt,
          ...(creation.displayName !== undefined ? { displayName: creation.displayName } : {}),
          ...(creation.description !== undefined ? { description: creation.description } : {}),
          ...(creation.tags !== undefined ? { tags: creation.tags } : {}),
          ...(creation.scriptName !== undefined ? { scriptName: creation.scriptName } : {}),
        },
        call,
      ),
    { policy: context.policy, serverUrl: context.client.url },
  )
}

/**
 * Uploads a spooled run's files, then sets its final status, then deletes its folder. Returns how
 * many files were uploaded and whether the run was ended; a run without an ending (its process is
 * still going, or died) keeps its folder. A run the server has already ended is left as it is.
 */
export async function finishSpooledRun(
  run: SpooledRun,
  context: { client: WharfClient; policy: RetryPolicy; signal?: AbortSignal },
): Promise<{ artifacts: number; ended: boolean }> {
  const { client, policy } = context
  const call = context.signal ? { signal: context.signal } : {}
  const retry = { policy, serverUrl: client.url }
  if (run.ending === undefined) return { artifacts: 0, ended: false }
  const current = await retryRequest(() => client.getRun(run.runId, call), retry)
  let artifacts = 0
  if (!isTerminalStatus(current.status)) {
    for (const artifactPath of run.artifacts) {
      const file = path.join(run.folder, FILES_FOLDER, ...artifactPath.split('/'))
      await retryRequest(() => uploadArtifactFile(client, { runId: run.runId, name: artifactPath, source: file, ...call }), retry)
      artifacts++
    }
    const ending = run.ending
    try {
      await retryRequest(
        () =>
          client.setRunStatus(run.runId, ending.status, {
            at: ending.at,
            ...(ending.error ? { error: ending.error } : {}),
            ...call,
          }),
        retry,
      )
    } catch (error) {
      // Ended meanwhile by someone else (a cancel in the studio): theirs is the last word.
      if (!isWharfError(error) || error.code !== 'INVALID_STATUS_TRANSITION') throw error
    }
  }
  await rm(run.folder, { recursive: true, force: true })
  // The last run out leaves no empty `runs/` behind; another run's folder keeps it.
  await rmdir(path.dirname(run.folder)).catch(() => undefined)
  return { artifacts, ended: true }
}

/** The error of a spooled run that could not be replayed, naming its folder. */
export function spooledRunError(run: SpooledRun, error: unknown): WharfError {
  const cause = isWharfError(error) ? error : new WharfError('INTERNAL', String(error), { cause: error })
  return new WharfError(cause.code, `run "${printable(run.runId)}" (${run.folder}): ${cause.message}`, { cause })
}
