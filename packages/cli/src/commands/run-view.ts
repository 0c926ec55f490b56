import type { WharfClient } from '@wharf/client'
import { WharfError, type Artifact, type MetricSummary, type Run, type RunWithMetrics } from '@wharf/contract'
import { formatDuration } from '../output/values.js'

/** A run as `wharf history` prints it in JSON: the run's own fields in camelCase, Azure-like extras. */
export interface RunJson {
  runId: string
  experiment: string
  displayName: string
  status: string
  scriptName: string | null
  target: string
  createdAt: string
  startedAt: string | null
  endedAt: string | null
  /** `H:MM:SS.mmm` from start to end (to now while the run is live); null before it starts. */
  duration: string | null
  description: string
  parentRunId: string | null
  tags: Record<string, string>
  properties: Record<string, string>
  error: Run['error']
  /** Each metric's last value. */
  metrics: Record<string, number | string | null>
}

/** Milliseconds from start to end (or now); undefined before the run starts. */
export function durationMs(run: Pick<Run, 'startedAt' | 'endedAt'>): number | undefined {
  if (!run.startedAt) return undefined
  const end = run.endedAt ? Date.parse(run.endedAt) : Date.now()
  return end - Date.parse(run.startedAt)
}

/** The JSON form of a run, with the metrics' last values. */
export function runJson(run: Run | RunWithMetrics, metrics?: Record<string, number | string | null>): RunJson {
  const ms = durationMs(run)
  return {
    runId: run.id,
    experiment: run.experiment,
    displayName: run.displayName,
    status: run.status,
    scriptName: run.scriptName,
    target: run.computeTarget,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    duration: ms === undefined ? null : formatDuration(ms),
    description: run.description,
    parentRunId: run.parentRunId,
    tags: run.tags,
    properties: run.properties,
    error: run.error,
    metrics: metrics ?? ('metrics' in run ? run.metrics : {}),
  }
}

/** Last values of a run's metrics by name. */
export function lastValues(summaries: readonly MetricSummary[]): Record<string, number | string | null> {
  return Object.fromEntries(summaries.map((s) => [s.name, s.last]))
}

/** Normalizes an artifact path or prefix as typed: no `./` in front, no `/` at the end. */
export function normalizePrefix(raw: string): string {
  return raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '')
}

/** True when `artifactPath` is `prefix` itself or lies under the folder `prefix/`. */
export function isUnder(artifactPath: string, prefix: string): boolean {
  return prefix === '' || artifactPath === prefix || artifactPath.startsWith(prefix + '/')
}

/**
 * The run's artifacts that are `prefix` or under `prefix/`; ARTIFACT_NOT_FOUND (naming the command
 * that lists them) when a prefix is given and nothing matches. RUN_NOT_FOUND for an unknown run.
 */
export async function artifactsUnder(
  client: WharfClient,
  options: { runId: string; prefix: string | undefined },
): Promise<Artifact[]> {
  const prefix = options.prefix === undefined ? '' : normalizePrefix(options.prefix)
  const listed = await client.listArtifacts(options.runId, prefix ? { prefix } : {}).toArray()
  const matching = listed.filter((a) => isUnder(a.path, prefix))
  if (prefix !== '' && matching.length === 0) {
    throw new WharfError(
      'ARTIFACT_NOT_FOUND',
      `run "${options.runId}" has no artifact "${prefix}" and none under "${prefix}/"; wharf history info -r ${options.runId} lists its artifacts`,
      { details: { runId: options.runId, prefix } },
    )
  }
  return matching
}
