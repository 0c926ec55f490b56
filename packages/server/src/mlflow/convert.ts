import { NON_FINITE_VALUES, type MetricSummary, type Run } from '@wharf/contract'
import type { ExperimentDetails, LoggedModel } from '@wharf/store'
import { mlflowExperimentId, toMlflowStatus } from './context.js'
import type { Searchable } from './search.js'
import { jsonDouble, keyValues, msOf } from './wire.js'

/** MLflow tags that are fields of a Wharf run rather than tags. */
export const RUN_NAME_TAG = 'mlflow.runName'
export const NOTE_TAG = 'mlflow.note.content'
export const PARENT_TAG = 'mlflow.parentRunId'
export const USER_TAG = 'mlflow.user'
/** The run tag that keeps the datasets logged with log-inputs (JSON), shown as the run's inputs. */
export const INPUTS_TAG = 'wharf.mlflow.inputs'

/** One dataset input as kept in {@link INPUTS_TAG}. */
export interface DatasetInput {
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string }
  tags: { key: string; value: string }[]
}

/** The datasets a run was given through log-inputs. */
export function datasetInputsOf(run: Pick<Run, 'tags'>): DatasetInput[] {
  const text = run.tags[INPUTS_TAG]
  if (text === undefined) return []
  try {
    return JSON.parse(text) as DatasetInput[]
  } catch {
    return []
  }
}

/** A run's tags as MLflow shows them: its own, plus its name, description and parent as the mlflow.* tags. */
export function mlflowTagsOf(run: Run): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const [key, value] of Object.entries(run.tags)) if (key !== INPUTS_TAG) tags[key] = value
  tags[RUN_NAME_TAG] = run.displayName
  if (run.description !== '') tags[NOTE_TAG] = run.description
  if (run.parentRunId !== null) tags[PARENT_TAG] = run.parentRunId
  return tags
}

/** Where the run artifacts of a logged model live: under `models/<model_id>/` of its source run. */
export function modelArtifactPrefix(modelId: string): string {
  return `models/${modelId}`
}

/** A run's artifact root as MLflow clients resolve it through the artifact proxy. */
export function artifactUriOf(run: Pick<Run, 'id'>, experimentId: string): string {
  return `mlflow-artifacts:/${experimentId}/${run.id}/artifacts`
}

/** MLflow's RunInfo of a Wharf run. */
export function runInfoJson(run: Run, experimentId: string): Record<string, unknown> {
  return {
    run_id: run.id,
    run_uuid: run.id,
    run_name: run.displayName,
    experiment_id: experimentId,
    user_id: run.tags[USER_TAG] ?? '',
    status: toMlflowStatus(run.status),
    start_time: msOf(run.startedAt ?? run.createdAt),
    ...(run.endedAt !== null ? { end_time: msOf(run.endedAt) } : {}),
    artifact_uri: artifactUriOf(run, experimentId),
    lifecycle_stage: run.deletedAt === undefined ? 'active' : 'deleted',
  }
}

/** A metric summary's last value as a number, or undefined for a text metric. */
export function numericLast(summary: Pick<MetricSummary, 'last'>): number | undefined {
  const { last } = summary
  if (typeof last === 'number') return last
  if (typeof last === 'string' && (NON_FINITE_VALUES as readonly string[]).includes(last)) return Number(last)
  return undefined
}

/** MLflow's Run of a Wharf run with its metric summaries and logged models. */
export function runJson(
  run: Run,
  options: { experimentId: string; metrics: readonly MetricSummary[]; models?: readonly LoggedModel[] },
): Record<string, unknown> {
  const metrics = options.metrics.flatMap((summary) => {
    const value = numericLast(summary)
    return value === undefined
      ? []
      : [{ key: summary.name, value: jsonDouble(value), timestamp: summary.lastTime, step: summary.lastStep }]
  })
  const inputs = datasetInputsOf(run)
  return {
    info: runInfoJson(run, options.experimentId),
    data: {
      ...(metrics.length > 0 ? { metrics } : {}),
      ...(Object.keys(run.properties).length > 0 ? { params: keyValues(run.properties) } : {}),
      tags: keyValues(mlflowTagsOf(run)),
    },
    inputs: inputs.length > 0 ? { dataset_inputs: inputs } : {},
    outputs:
      options.models !== undefined && options.models.length > 0
        ? { model_outputs: options.models.map((model) => ({ model_id: model.id, step: 0 })) }
        : {},
  }
}

/** What a run search looks at in a run. */
export function searchableRun(run: Run & { metrics?: Record<string, unknown> }, experimentId: string): Searchable {
  const metrics: Record<string, number> = {}
  for (const [name, last] of Object.entries(run.metrics ?? {})) {
    const value = numericLast({ last: last as MetricSummary['last'] })
    if (value !== undefined) metrics[name] = value
  }
  const info = runInfoJson(run, experimentId)
  return {
    attributes: {
      run_id: run.id,
      run_name: run.displayName,
      status: info.status as string,
      user_id: info.user_id as string,
      artifact_uri: info.artifact_uri as string,
      lifecycle_stage: info.lifecycle_stage as string,
      start_time: info.start_time as number,
      end_time: (info.end_time as number | undefined) ?? null,
    },
    metrics,
    params: run.properties,
    tags: mlflowTagsOf(run),
    datasets: datasetInputsOf(run).map((input) => ({
      name: input.dataset.name,
      digest: input.dataset.digest,
      context: input.tags.find((tag) => tag.key === 'mlflow.data.context')?.value ?? '',
    })),
  }
}

/** MLflow's Experiment of a Wharf experiment. */
export function experimentJson(experiment: ExperimentDetails): Record<string, unknown> {
  const id = mlflowExperimentId(experiment)
  const tags = keyValues(experiment.tags)
  return {
    experiment_id: id,
    name: experiment.name,
    artifact_location: `mlflow-artifacts:/${id}`,
    lifecycle_stage: experiment.deletedAt === null ? 'active' : 'deleted',
    last_update_time: msOf(experiment.updatedAt),
    creation_time: msOf(experiment.createdAt),
    ...(tags.length > 0 ? { tags } : {}),
  }
}

/** What an experiment search looks at in an experiment. */
export function searchableExperiment(experiment: ExperimentDetails): Searchable {
  return {
    attributes: {
      name: experiment.name,
      experiment_id: mlflowExperimentId(experiment),
      creation_time: msOf(experiment.createdAt),
      last_update_time: msOf(experiment.updatedAt),
    },
    tags: experiment.tags,
  }
}
