import os from 'node:os'
import path from 'node:path'

/**
 * What the SDK takes from the environment. Read in one place, at the SDK's entry points
 * (`Workspace.fromConfig`, `Run.getContext`, `getLogger`); everything below them takes options.
 */
export interface SdkEnvironment {
  /** Server URL (`WHARF_TRACKING_URI`), overriding any config file. */
  trackingUri?: string
  /** Bearer token (`WHARF_RUN_TOKEN` inside a submitted run, else `WHARF_AUTH_TOKEN`). */
  token?: string
  /** Workspace name (`WHARF_WORKSPACE`). */
  workspace?: string
  /** Experiment of an interactive run (`WHARF_EXPERIMENT`). */
  experiment?: string
  /** The run this process belongs to, when it was submitted (`WHARF_RUN_ID`, or `AZUREML_RUN_ID`). */
  runId?: string
  /** A submitted run's ./outputs, which its runner uploads when the script ends (`WHARF_OUTPUTS_DIR`). */
  outputsDir?: string
  /** Where unsent metric batches are spooled: `$WHARF_HOME/spool`, else `~/.wharf/spool`. */
  spoolDir: string
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** Reads the SDK's settings from an environment (the process's own unless given). */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): SdkEnvironment {
  const home = nonEmpty(env.WHARF_HOME) ?? path.join(os.homedir(), '.wharf')
  const result: SdkEnvironment = { spoolDir: path.join(home, 'spool') }
  const trackingUri = nonEmpty(env.WHARF_TRACKING_URI)
  const token = nonEmpty(env.WHARF_RUN_TOKEN) ?? nonEmpty(env.WHARF_AUTH_TOKEN)
  const workspace = nonEmpty(env.WHARF_WORKSPACE)
  const experiment = nonEmpty(env.WHARF_EXPERIMENT)
  const runId = nonEmpty(env.WHARF_RUN_ID) ?? nonEmpty(env.AZUREML_RUN_ID)
  if (trackingUri) result.trackingUri = trackingUri
  if (token) result.token = token
  if (workspace) result.workspace = workspace
  if (experiment) result.experiment = experiment
  if (runId) result.runId = runId
  const outputsDir = nonEmpty(env.WHARF_OUTPUTS_DIR)
  if (outputsDir) result.outputsDir = outputsDir
  return result
}
