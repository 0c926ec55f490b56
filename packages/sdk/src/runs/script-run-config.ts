import { stat } from 'node:fs/promises'
import path from 'node:path'
import { RunDefinitionSchema, WharfError, printable, type DataReferenceConfig } from '@wharf/contract'
import { DataReference } from '../data/data-reference.js'
import type { SubmitRequest } from './submit-request.js'

/** One argument of a run: text, a number, or a data reference (which stands for its local path). */
export type RunArgument = string | number | DataReference

/** The compute targets there are. */
export const COMPUTE_TARGETS = ['local'] as const

/** The longest a run may last (30 days), and its default. */
export const MAX_RUN_DURATION_SECONDS = 2_592_000

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** What a submitted run executes, and where. */
export interface ScriptRunConfigOptions {
  /** The folder snapshotted and run from; relative to the working folder. */
  sourceDirectory: string
  /** The entry script, relative to `sourceDirectory` (or an absolute path inside it). Exclusive with `command`. */
  script?: string
  /** Arguments after the script; a DataReference is passed as its local path. */
  arguments?: readonly RunArgument[]
  /** The command to run instead of a script: an argv, or one string run through `/bin/sh -c`. */
  command?: readonly RunArgument[] | string
  /** Data references made ready before the run (or uploaded after it, for `asUpload`), beyond those in the arguments. */
  inputs?: readonly DataReference[]
  /** Data references the run writes: uploaded after it (`asUpload`) or written through a mount. */
  outputs?: readonly DataReference[]
  /** Set on the script's process. */
  environmentVariables?: Readonly<Record<string, string>>
  /** Where it runs: `local` (this machine), the one target there is today. */
  computeTarget?: string
  /** The datastore that keeps the source snapshot (default `workspaceblobstore`). */
  sourceDirectoryDataStore?: string
  /** The interpreter for a `.py` script (default `python3`). */
  python?: string
  /** The run is stopped and failed after this long (default and most: 30 days). */
  maxRunDurationSeconds?: number
  displayName?: string
  description?: string
  tags?: Readonly<Record<string, string>>
}

/** The definition a config gives, before the source datastore's default is applied. */
export type SubmittedDefinition = SubmitRequest['definition']

function invalid(message: string, field: string): WharfError {
  return new WharfError('INVALID_ARGUMENT', message, { details: { field } })
}

/** INVALID_ARGUMENT for any target but `local`. */
export function assertComputeTarget(target: string): void {
  if ((COMPUTE_TARGETS as readonly string[]).includes(target)) return
  throw invalid(`compute target "${printable(target)}" does not exist; only 'local' (this machine) exists today`, 'computeTarget')
}

/** `script` as a forward-slash path inside `sourceDirectory`; INVALID_ARGUMENT for one outside it. */
function scriptInSource(sourceDirectory: string, script: string): string {
  const absolute = path.resolve(sourceDirectory, script)
  const relative = path.relative(sourceDirectory, absolute)
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw invalid(
      `script "${printable(script)}" is not inside the source directory ${sourceDirectory}; the source directory is what the run gets, so put the script in it (or pick a parent folder as sourceDirectory)`,
      'script',
    )
  }
  return relative.split(path.sep).join('/')
}

/**
 * Collects data references by name; the same name twice is fine for the same configuration and
 * INVALID_ARGUMENT for two different ones.
 */
class ReferenceSet {
  readonly #byName = new Map<string, DataReferenceConfig>()

  add(reference: DataReference, where: string): void {
    const config = reference.toConfig()
    const known = this.#byName.get(config.name)
    if (known === undefined) {
      this.#byName.set(config.name, config)
      return
    }
    if (JSON.stringify(known) === JSON.stringify(config)) return
    throw invalid(
      `two different data references are named "${config.name}" (${describe(known)} and, in ${where}, ${describe(config)}); ` +
        `give one another name with dataReferenceName (ds.path(p, { dataReferenceName }))`,
      'dataReferenceName',
    )
  }

  get configs(): DataReferenceConfig[] {
    return [...this.#byName.values()]
  }
}

function describe(config: DataReferenceConfig): string {
  const where = config.pathOnDatastore === null ? config.datastore : `${config.datastore}:${config.pathOnDatastore}`
  return `${where} as ${config.mode}${config.pathOnCompute !== null ? ` at ${config.pathOnCompute}` : ''}${config.overwrite ? ' (overwrite)' : ''}`
}

function argText(value: RunArgument, references: ReferenceSet, where: string): string {
  if (value instanceof DataReference) {
    references.add(value, where)
    return value.toString()
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw invalid(`${where} holds the number ${value}; pass it as a string if it is meant`, 'arguments')
    return String(value)
  }
  if (typeof value === 'string') return value
  throw invalid(`${where} holds a ${typeof value}; arguments are strings, numbers or data references`, 'arguments')
}

/**
 * How to run a script (or a command) from a source folder on a compute target, with data references
 * in its arguments, inputs and outputs. Checks everything it can at construction (INVALID_ARGUMENT);
 * the source folder and the script are checked when submitted (FILE_NOT_FOUND). Immutable.
 */
export class ScriptRunConfig {
  /** The source folder, absolute. */
  readonly sourceDirectory: string
  readonly script: string | null
  readonly computeTarget: string
  readonly displayName: string | undefined
  readonly description: string | undefined
  readonly tags: Readonly<Record<string, string>> | undefined
  /** What the run executes, as stored with it. */
  readonly definition: SubmittedDefinition

  constructor(options: ScriptRunConfigOptions) {
    if (typeof options.sourceDirectory !== 'string' || options.sourceDirectory === '') {
      throw invalid('sourceDirectory is required: the folder whose snapshot the run executes (often ".")', 'sourceDirectory')
    }
    this.sourceDirectory = path.resolve(options.sourceDirectory)
    const hasScript = options.script !== undefined && options.script !== null
    const hasCommand = options.command !== undefined && options.command !== null
    if (hasScript === hasCommand) {
      throw invalid(
        hasScript
          ? 'give either script (with arguments) or command, not both: a command runs as given, a script with its arguments'
          : 'give script (the entry script in the source directory) or command (an argv, or a shell line)',
        hasScript ? 'command' : 'script',
      )
    }
    if (hasCommand && options.arguments !== undefined && options.arguments.length > 0) {
      throw invalid('arguments go with script; with command, put them in the command itself', 'arguments')
    }
    this.computeTarget = options.computeTarget ?? 'local'
    assertComputeTarget(this.computeTarget)

    const references = new ReferenceSet()
    let command: string[]
    if (hasScript) {
      this.script = scriptInSource(this.sourceDirectory, options.script as string)
      command = [this.script, ...(options.arguments ?? []).map((a, i) => argText(a, references, `arguments[${i}]`))]
    } else {
      this.script = null
      const given = options.command as readonly RunArgument[] | string
      if (typeof given === 'string') {
        if (given.trim() === '') throw invalid('command is an empty string; give the shell line to run', 'command')
        command = ['/bin/sh', '-c', given]
      } else {
        if (given.length === 0) throw invalid('command is an empty list; give the program and its arguments', 'command')
        command = given.map((a, i) => argText(a, references, `command[${i}]`))
      }
    }
    for (const [i, input] of (options.inputs ?? []).entries()) {
      if (!(input instanceof DataReference))
        throw invalid(`inputs[${i}] is not a DataReference (ds.path(p), ds.asDownload()…)`, 'inputs')
      references.add(input, `inputs[${i}]`)
    }
    for (const [i, output] of (options.outputs ?? []).entries()) {
      if (!(output instanceof DataReference))
        throw invalid(`outputs[${i}] is not a DataReference (ds.path(p).asUpload()…)`, 'outputs')
      if (output.mode === 'download') {
        throw invalid(
          `outputs[${i}] ("${output.dataReferenceName}") is a download; an output is uploaded after the run (asUpload) or written through a mount (asMount)`,
          'outputs',
        )
      }
      references.add(output, `outputs[${i}]`)
    }

    const environmentVariables: Record<string, string> = {}
    for (const [key, value] of Object.entries(options.environmentVariables ?? {})) {
      if (!ENV_NAME.test(key)) {
        throw invalid(
          `environment variable name "${printable(key)}" is not valid: letters, digits and "_", not starting with a digit`,
          'environmentVariables',
        )
      }
      if (key.startsWith('WHARF_')) {
        throw invalid(
          `environment variable "${key}" is reserved: the runner sets the WHARF_ variables of a run; pick another name`,
          'environmentVariables',
        )
      }
      if (typeof value !== 'string') throw invalid(`environment variable "${key}" must be a string`, 'environmentVariables')
      environmentVariables[key] = value
    }
    const maxRunDurationSeconds = options.maxRunDurationSeconds ?? MAX_RUN_DURATION_SECONDS
    if (
      !Number.isInteger(maxRunDurationSeconds) ||
      maxRunDurationSeconds < 1 ||
      maxRunDurationSeconds > MAX_RUN_DURATION_SECONDS
    ) {
      throw invalid(
        `maxRunDurationSeconds must be a whole number from 1 to ${MAX_RUN_DURATION_SECONDS} (30 days), got ${String(maxRunDurationSeconds)}`,
        'maxRunDurationSeconds',
      )
    }
    const definition: SubmittedDefinition = {
      script: this.script,
      command,
      dataReferences: references.configs,
      environmentVariables,
      python: options.python === undefined ? null : interpreterPath(options.python),
      maxRunDurationSeconds,
      ...(options.sourceDirectoryDataStore !== undefined ? { sourceDirectoryDataStore: options.sourceDirectoryDataStore } : {}),
    }
    // The limits the server checks (lengths and counts), checked here where the caller can fix them.
    const checked = RunDefinitionSchema.safeParse({
      ...definition,
      sourceDirectoryDataStore: definition.sourceDirectoryDataStore ?? 'workspaceblobstore',
    })
    if (!checked.success) {
      const issue = checked.error.issues[0]
      const field = issue?.path.join('.') ?? ''
      throw invalid(`the run definition is not valid at "${field}": ${issue?.message ?? 'invalid'}`, field)
    }
    this.definition = definition
    this.displayName = options.displayName
    this.description = options.description
    this.tags = options.tags
  }

  /**
   * FILE_NOT_FOUND unless the source folder is a folder and the script a file in it. Called by
   * `Experiment.submit` before anything is uploaded.
   */
  async checkSource(): Promise<void> {
    const folder = await stat(this.sourceDirectory).catch(() => undefined)
    if (!folder?.isDirectory()) {
      throw new WharfError(
        'FILE_NOT_FOUND',
        `source directory ${this.sourceDirectory} ${folder ? 'is not a folder' : 'does not exist'}; give the folder that holds the run's code`,
        { details: { path: this.sourceDirectory } },
      )
    }
    if (this.script === null) return
    const file = path.join(this.sourceDirectory, ...this.script.split('/'))
    const script = await stat(file).catch(() => undefined)
    if (!script?.isFile()) {
      throw new WharfError(
        'FILE_NOT_FOUND',
        `script "${this.script}" is not a file in the source directory ${this.sourceDirectory}; give its path relative to that folder`,
        { details: { path: file } },
      )
    }
  }

  /** The request the runner gets. */
  toSubmitRequest(options: { experiment: string; python?: string | undefined; signal?: AbortSignal }): SubmitRequest {
    const python = this.definition.python ?? (options.python === undefined ? null : interpreterPath(options.python))
    return {
      experiment: options.experiment,
      sourceDirectory: this.sourceDirectory,
      definition: { ...this.definition, python },
      computeTarget: this.computeTarget,
      ...(this.displayName !== undefined ? { displayName: this.displayName } : {}),
      ...(this.description !== undefined ? { description: this.description } : {}),
      ...(this.tags !== undefined ? { tags: { ...this.tags } } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }
  }
}

/** An interpreter as the runner will start it: a command name as it is, a relative path made absolute from here. */
function interpreterPath(python: string): string {
  if (python.trim() === '') throw invalid('python is empty; give an interpreter name or path, e.g. ".venv/bin/python"', 'python')
  return python.includes('/') && !path.isAbsolute(python) ? path.resolve(python) : python
}
