import path from 'node:path'
import {
  NAME_RULES,
  WharfError,
  assertName,
  isWharfError,
  newRunId,
  type ListRunsQuery,
  type Run as RunInfo,
} from '@wharf/contract'
import { isRetryable, resolveRetryPolicy, retryRequest } from '../retry.js'
import { Run } from './run.js'
import { spoolRunCreation } from './run-spool.js'
import type { WorkspaceConnection } from '../config/connection.js'
import { Estimator } from './estimator.js'
import { ScriptRunConfig } from './script-run-config.js'
import type { RunnerModule } from './submit-request.js'

/** How to start an interactive run. */
export interface StartLoggingOptions {
  /** Folder uploaded as the run's `outputs/` artifacts when it ends; `false` uploads nothing. */
  outputs?: string | false
  displayName?: string
  description?: string
  tags?: Record<string, string>
  signal?: AbortSignal
  /**
   * When the server cannot be reached (after retries): `'throw'` (default) rejects with
   * SERVER_UNREACHABLE; `'offline'` starts the run in the spool with an id made here, logs to the
   * spool, and `wharf sync` creates it on the server later with everything in it.
   */
  whenUnreachable?: 'throw' | 'offline'
}

/** An experiment: a named group of runs in a workspace, created on first use. */
export class Experiment {
  readonly workspace: WorkspaceConnection
  readonly name: string

  /** Throws INVALID_ARGUMENT for a name the server would refuse. No I/O. */
  constructor(workspace: WorkspaceConnection, name: string) {
    assertName(name, NAME_RULES.experiment)
    this.workspace = workspace
    this.name = name
  }

  /**
   * Starts an interactive run (status Running) whose metrics and files are tracked from this process.
   * Usable with `await using`: leaving the block completes the run (call `run.fail(error)` first to
   * record a failure).
   */
  async startLogging(options: StartLoggingOptions = {}): Promise<Run> {
    // The id is made here so a retried creation (its answer lost) is the same run, and an offline
    // run keeps the id it will have on the server.
    const runId = newRunId()
    const startedAt = new Date().toISOString()
    const fields = {
      ...(options.displayName !== undefined ? { displayName: options.displayName } : {}),
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(options.tags !== undefined ? { tags: options.tags } : {}),
      ...(process.argv[1] !== undefined ? { scriptName: path.basename(process.argv[1]) } : {}),
    }
    const outputs = options.outputs ?? './outputs'
    try {
      const call = options.signal ? { signal: options.signal } : {}
      const [info] = await Promise.all([
        retryRequest(
          () => this.workspace.client.createRun({ experiment: this.name, runId, status: 'Running', ...fields }, call),
          {
            policy: resolveRetryPolicy(),
            serverUrl: this.workspace.url,
            holdProcess: true,
          },
        ),
        // The server's limits, so the run's logger refuses at the call what this server would refuse;
        // without them (an older server, a failed read) it checks against the defaults.
        this.workspace.client.health(call).catch(() => undefined),
      ])
      return new Run(this.workspace, info, { outputs })
    } catch (error) {
      if (options.whenUnreachable !== 'offline' || !isWharfError(error) || !isRetryable(error)) throw error
    }
    const creation = { runId, workspace: this.workspace.name, experiment: this.name, startedAt, ...fields }
    spoolRunCreation({ spoolDir: this.workspace.spoolDir, creation })
    const info: RunInfo = {
      id: runId,
      workspace: this.workspace.name,
      experiment: this.name,
      displayName: options.displayName ?? runId,
      description: options.description ?? '',
      status: 'Running',
      createdAt: startedAt,
      startedAt,
      endedAt: null,
      error: null,
      tags: options.tags ?? {},
      properties: {},
      parentRunId: null,
      computeTarget: 'local',
      scriptName: fields.scriptName ?? null,
      command: null,
      snapshotId: null,
      definition: null,
      statusTimes: { Running: startedAt },
      heartbeatAt: null,
      cancelRequestedAt: null,
    }
    return new Run(this.workspace, info, { outputs, offline: true })
  }

  /**
   * Submits a script run: snapshots the source folder, creates the run (Queued) and starts it on the
   * compute target through `@wharf/runner`, then returns at once; `run.waitForCompletion()` follows it.
   * FILE_NOT_FOUND for a missing source folder or script, before anything is uploaded.
   */
  async submit(config: ScriptRunConfig | Estimator, options: { signal?: AbortSignal } = {}): Promise<Run> {
    const scriptRun = config instanceof Estimator ? config.toScriptRunConfig() : config
    if (!(scriptRun instanceof ScriptRunConfig)) {
      throw new WharfError('INVALID_ARGUMENT', 'submit takes a ScriptRunConfig or an Estimator', { details: { field: 'config' } })
    }
    await scriptRun.checkSource()
    const runner = await loadRunner()
    const info = await runner.submitRun(
      this.workspace,
      scriptRun.toSubmitRequest({
        experiment: this.name,
        python: this.workspace.python,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    )
    return new Run(this.workspace, info, { outputs: false })
  }

  /** The experiment's runs, newest first, filtered like `wharf history list`. */
  async *getRuns(filter: Omit<ListRunsQuery, 'experiment' | 'pageToken'> = {}): AsyncGenerator<Run> {
    for await (const info of this.workspace.client.listRuns({ ...filter, experiment: this.name })) {
      yield new Run(this.workspace, info, { outputs: false })
    }
  }
}

/**
 * `@wharf/runner`, loaded only when a run is submitted (docs/decisions/0026): the runner depends on the
 * SDK, so the SDK names it by a variable and has no static dependency on it. INTERNAL, saying to install
 * it, when it cannot be loaded.
 */
async function loadRunner(): Promise<RunnerModule> {
  const specifier = '@wharf/runner'
  let runner: Partial<RunnerModule>
  try {
    runner = (await import(specifier)) as Partial<RunnerModule>
  } catch (cause) {
    throw new WharfError(
      'INTERNAL',
      `submitting a run needs the @wharf/runner package, which could not be loaded (${(cause as Error).message}); install it with: npm install @wharf/runner`,
      { cause },
    )
  }
  if (typeof runner.submitRun !== 'function') {
    throw new WharfError(
      'INTERNAL',
      'the installed @wharf/runner has no submitRun; install the version that goes with this @wharf/sdk: npm install @wharf/runner',
    )
  }
  return runner as RunnerModule
}
