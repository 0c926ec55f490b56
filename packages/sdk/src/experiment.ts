import path from 'node:path'
import { NAME_RULES, assertName, type ListRunsQuery } from '@wharf/contract'
import { Run } from './run.js'
import type { Workspace } from './workspace.js'

/** How to start an interactive run. */
export interface StartLoggingOptions {
  /** Folder uploaded as the run's `outputs/` artifacts when it ends; `false` uploads nothing. */
  outputs?: string | false
  displayName?: string
  description?: string
  tags?: Record<string, string>
  signal?: AbortSignal
}

/** An experiment: a named group of runs in a workspace, created on first use. */
export class Experiment {
  readonly workspace: Workspace
  readonly name: string

  /** Throws INVALID_ARGUMENT for a name the server would refuse. No I/O. */
  constructor(workspace: Workspace, name: string) {
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
    const info = await this.workspace.client.createRun(
      {
        experiment: this.name,
        status: 'Running',
        ...(options.displayName !== undefined ? { displayName: options.displayName } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.tags !== undefined ? { tags: options.tags } : {}),
        ...(process.argv[1] !== undefined ? { scriptName: path.basename(process.argv[1]) } : {}),
      },
      options.signal ? { signal: options.signal } : {},
    )
    return new Run(this.workspace, info, { outputs: options.outputs ?? './outputs' })
  }

  /** The experiment's runs, newest first, filtered like `wharf history list`. */
  async *getRuns(filter: Omit<ListRunsQuery, 'experiment' | 'pageToken'> = {}): AsyncGenerator<Run> {
    for await (const info of this.workspace.client.listRuns({ ...filter, experiment: this.name })) {
      yield new Run(this.workspace, info, { outputs: false })
    }
  }
}
