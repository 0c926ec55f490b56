import { isTerminalStatus, isWharfError, type Run, type RunStatus } from '@wharf/contract'
import type { ExperimentDetails } from '@wharf/store'
import type { AppDeps } from '../deps.js'
import type { AppContext } from '../http.js'
import { MlflowError } from './errors.js'
import type { RequestFields } from './wire.js'

/** The experiment MLflow clients fall back to; MLflow calls it "Default" with id "0". */
export const DEFAULT_EXPERIMENT = 'Default'

/** What every MLflow handler gets: the server's dependencies, the workspace it works in, the request. */
export interface MlflowRequest {
  deps: AppDeps
  workspace: string
  c: AppContext
  fields: RequestFields
  /** Path parameters of the endpoint (`model_id`, ...). */
  params: Record<string, string>
  experiments: ExperimentCache
}

/** MLflow's run statuses. */
export const MLFLOW_RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const
export type MlflowRunStatus = (typeof MLFLOW_RUN_STATUSES)[number]

/** A Wharf status as MLflow names it: waiting ones are SCHEDULED, live ones RUNNING. */
export function toMlflowStatus(status: RunStatus): MlflowRunStatus {
  switch (status) {
    case 'NotStarted':
    case 'Queued':
    case 'Preparing':
      return 'SCHEDULED'
    case 'Running':
    case 'Finalizing':
      return 'RUNNING'
    case 'Completed':
      return 'FINISHED'
    case 'Failed':
      return 'FAILED'
    case 'Canceled':
      return 'KILLED'
  }
}

/** An MLflow status as Wharf names it. */
export function toWharfStatus(status: MlflowRunStatus): RunStatus {
  switch (status) {
    case 'RUNNING':
      return 'Running'
    case 'SCHEDULED':
      return 'Queued'
    case 'FINISHED':
      return 'Completed'
    case 'FAILED':
      return 'Failed'
    case 'KILLED':
      return 'Canceled'
  }
}

/** The MLflow id of an experiment: "0" for the default one, its number otherwise. */
export function mlflowExperimentId(experiment: Pick<ExperimentDetails, 'id' | 'name'>): string {
  return experiment.name === DEFAULT_EXPERIMENT ? '0' : String(experiment.id)
}

/** Experiments read once per request, by MLflow id and by name. */
export class ExperimentCache {
  private readonly byName = new Map<string, ExperimentDetails>()
  constructor(
    private readonly deps: Pick<AppDeps, 'store'>,
    private readonly workspace: string,
  ) {}

  /** The default experiment, created on first use as MLflow's always exists. */
  async defaultExperiment(): Promise<ExperimentDetails> {
    const cached = this.byName.get(DEFAULT_EXPERIMENT)
    if (cached !== undefined) return cached
    await this.deps.store.ensureExperiment({
      workspace: this.workspace,
      name: DEFAULT_EXPERIMENT,
      createdAt: new Date().toISOString(),
    })
    return this.named(DEFAULT_EXPERIMENT)
  }

  /** The experiment of an MLflow id; RESOURCE_DOES_NOT_EXIST. */
  async byId(id: string): Promise<ExperimentDetails> {
    if (id === '0') return this.defaultExperiment()
    const number = /^[1-9]\d{0,15}$/.test(id) ? Number(id) : NaN
    if (!Number.isSafeInteger(number)) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`)
    try {
      const experiment = await this.deps.store.getExperimentDetails({ workspace: this.workspace, id: number })
      this.byName.set(experiment.name, experiment)
      return experiment
    } catch (error) {
      if (isWharfError(error, 'EXPERIMENT_NOT_FOUND'))
        throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`)
      throw error
    }
  }

  /** The experiment of a name; RESOURCE_DOES_NOT_EXIST. */
  async named(name: string): Promise<ExperimentDetails> {
    const cached = this.byName.get(name)
    if (cached !== undefined) return cached
    try {
      const experiment = await this.deps.store.getExperimentDetails({ workspace: this.workspace, name })
      this.byName.set(name, experiment)
      return experiment
    } catch (error) {
      if (isWharfError(error, 'EXPERIMENT_NOT_FOUND')) {
        throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`)
      }
      throw error
    }
  }

  /** The MLflow id of the experiment a run belongs to. */
  async idOfRun(run: Pick<Run, 'experiment'>): Promise<string> {
    if (run.experiment === DEFAULT_EXPERIMENT) return '0'
    return mlflowExperimentId(await this.named(run.experiment))
  }
}

/** The run, RESOURCE_DOES_NOT_EXIST in MLflow's words when there is none. */
export async function findRun(request: MlflowRequest, runId: string): Promise<Run> {
  try {
    return await request.deps.store.getRun({ workspace: request.workspace, runId })
  } catch (error) {
    if (isWharfError(error, 'RUN_NOT_FOUND') || isWharfError(error, 'INVALID_ARGUMENT')) {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`)
    }
    throw error
  }
}

/** The run, refused as MLflow does when it is deleted (writes need an active run). */
export async function activeRun(request: MlflowRequest, runId: string): Promise<Run> {
  const run = await findRun(request, runId)
  if (run.deletedAt !== undefined) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `The run ${runId} must be in the 'active' state. Current state is deleted.`)
  }
  return run
}

/** True when a run has ended in Wharf's lifecycle (it never re-opens). */
export function hasEnded(run: Pick<Run, 'status'>): boolean {
  return isTerminalStatus(run.status)
}
