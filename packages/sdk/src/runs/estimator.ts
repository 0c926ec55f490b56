import { WharfError } from '@wharf/contract'
import type { DataReference } from '../data/data-reference.js'
import {
  ScriptRunConfig,
  assertComputeTarget,
  type RunArgument,
  type ScriptRunConfigOptions,
  type SubmittedDefinition,
} from './script-run-config.js'

/**
 * What an Estimator takes: Azure ML's older way to describe a script run, an entry script and named
 * parameters; the rest is as {@link ScriptRunConfigOptions}.
 */
export interface EstimatorOptions extends Omit<ScriptRunConfigOptions, 'script' | 'arguments' | 'command' | 'outputs'> {
  /** The entry script, relative to `sourceDirectory`. */
  entryScript: string
  /**
   * Named parameters, passed as `--name value` in insertion order (a key that already starts with `-`
   * is passed as it is, as Azure's `{'--data-folder': ds}`); a DataReference is passed as its local path.
   */
  scriptParams?: Readonly<Record<string, string | number | DataReference>>
}

/**
 * A thin layer over {@link ScriptRunConfig} for code written against Azure ML's Estimator: an entry
 * script and named parameters. Throws what ScriptRunConfig throws, and INVALID_ARGUMENT for a compute
 * target other than `local`.
 */
export class Estimator {
  readonly config: ScriptRunConfig

  constructor(options: EstimatorOptions) {
    assertComputeTarget(options.computeTarget ?? 'local')
    if (typeof options.entryScript !== 'string' || options.entryScript === '') {
      throw new WharfError('INVALID_ARGUMENT', 'entryScript is required: the script in sourceDirectory to run', {
        details: { field: 'entryScript' },
      })
    }
    const args: RunArgument[] = []
    for (const [key, value] of Object.entries(options.scriptParams ?? {})) {
      args.push(key.startsWith('-') ? key : `--${key}`, value)
    }
    const { entryScript, scriptParams: _params, ...rest } = options
    this.config = new ScriptRunConfig({ ...rest, script: entryScript, arguments: args })
  }

  /** What the run executes, as ScriptRunConfig computes it. */
  get definition(): SubmittedDefinition {
    return this.config.definition
  }

  /** The equivalent ScriptRunConfig. */
  toScriptRunConfig(): ScriptRunConfig {
    return this.config
  }
}
