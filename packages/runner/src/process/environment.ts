import type { RunDefinition } from '@wharf/contract'

/** What a script's environment is made of; see {@link buildScriptEnvironment}. */
export interface ScriptEnvironmentOptions {
  /** The runner's own environment, passed on. */
  parent: Readonly<Record<string, string | undefined>>
  definition: Pick<RunDefinition, 'environmentVariables'>
  runId: string
  trackingUri: string
  workspace: string
  experiment: string
  token: string
  /** Each data reference's absolute path, by name. */
  referencePaths: Readonly<Record<string, string>>
  /** The JSON file listing every reference. */
  inputsManifest: string
  /** The script's ./outputs, uploaded as the run's `outputs/` when it ends. */
  outputsDir: string
}

/**
 * The environment a submitted script runs with: the runner's, the definition's variables, then the run's
 * own (which win): WHARF_* and the Azure ML names scripts written for Azure ML read.
 */
export function buildScriptEnvironment(options: ScriptEnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(options.parent)) if (value !== undefined) env[key] = value
  Object.assign(env, options.definition.environmentVariables)
  for (const [name, folder] of Object.entries(options.referencePaths)) {
    env[`WHARF_DATAREFERENCE_${name}`] = folder
    env[`AZUREML_DATAREFERENCE_${name}`] = folder
  }
  Object.assign(env, {
    WHARF_RUN_ID: options.runId,
    WHARF_TRACKING_URI: options.trackingUri,
    WHARF_RUN_TOKEN: options.token,
    WHARF_WORKSPACE: options.workspace,
    WHARF_EXPERIMENT: options.experiment,
    WHARF_INPUTS_MANIFEST: options.inputsManifest,
    // Where the runner uploads outputs/ from: the SDKs upload it early when a script registers a model.
    WHARF_OUTPUTS_DIR: options.outputsDir,
    AZUREML_RUN_ID: options.runId,
    AZUREML_ARM_PROJECT_NAME: options.experiment,
    PYTHONUNBUFFERED: '1',
  })
  return env
}
