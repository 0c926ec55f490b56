import { once } from 'node:events'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import {
  DATA_REFERENCE_NAME,
  NAME_RULES,
  WharfError,
  printable,
  type DataReferenceConfig,
  type Run as RunInfo,
} from '@wharf/contract'
import { DataReference, Run, STD_LOG, ScriptRunConfig } from '@wharf/sdk'
import {
  collect,
  commandGroup,
  parseTagPairs,
  printResult,
  serverCommand,
  withConnectionOptions,
  type OutputFlags,
} from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import { renderPairs, renderTable, type Cell } from '../output/table.js'
import { paint, statusStyle, type Terminal } from '../output/terminal.js'
import { formatDuration, formatTime } from '../output/values.js'
import { addRunListCommand } from './history.js'
import { durationMs, runJson, type RunJson } from './run-view.js'

/** Flags of `wharf run submit`. */
export interface SubmitFlags extends ConnectionFlags {
  sourceDir: string
  experiment?: string
  script?: string
  command?: string
  input?: string[]
  output?: string[]
  env?: string[]
  python?: string
  name?: string
  tag?: string[]
  detach?: boolean
}

const INPUT_FORMAT = '--input NAME=DATASTORE[:PATH][:download|mount]'
const OUTPUT_FORMAT = '--output DATASTORE[:PATH]=LOCALPATH'
const INPUT_MODES = ['download', 'mount'] as const

function badFlag(flag: string, message: string): WharfError {
  return new WharfError('INVALID_ARGUMENT', message, { details: { flag } })
}

/** `DATASTORE[:PATH]` as a datastore name and an optional path. */
function splitDatastorePath(text: string): { datastore: string; pathOnDatastore: string | null } {
  const colon = text.indexOf(':')
  if (colon < 0) return { datastore: text, pathOnDatastore: null }
  const rest = text.slice(colon + 1)
  return { datastore: text.slice(0, colon), pathOnDatastore: rest === '' ? null : rest }
}

/** Builds a reference, turning the SDK's INVALID_ARGUMENT into one that shows the flag's format. */
function referenceFrom(flag: { name: string; spec: string; format: string }, make: () => DataReference): DataReference {
  const { name: flagName, spec, format } = flag
  try {
    return make()
  } catch (error) {
    if (error instanceof WharfError && (error.code === 'INVALID_ARGUMENT' || error.code === 'UNSAFE_PATH')) {
      throw new WharfError(error.code, `${flagName} "${printable(spec)}": ${error.message}; the format is ${format}`, {
        details: { flag: flagName },
        cause: error,
      })
    }
    throw error
  }
}

/** `left=right` split at the first `=`, or undefined when either side is empty (so the flag's example is shown). */
function splitPair(spec: string): [string, string] | undefined {
  const eq = spec.indexOf('=')
  return eq > 0 && eq < spec.length - 1 ? [spec.slice(0, eq), spec.slice(eq + 1)] : undefined
}

/**
 * `--input NAME=DATASTORE[:PATH][:download|mount]`: a data reference named NAME (the script sees
 * `$WHARF_DATAREFERENCE_NAME`), downloaded unless `:mount` (a download works on every machine; a
 * mount needs rclone and FUSE). INVALID_ARGUMENT with the format otherwise.
 */
export function parseInputFlag(spec: string): DataReference {
  const pair = splitPair(spec)
  if (pair === undefined) {
    throw badFlag(
      '--input',
      `--input "${printable(spec)}" is not NAME=DATASTORE[:PATH][:download|mount]; e.g. --input DATA=workspaceblobstore:mnist:download`,
    )
  }
  const [name, target] = pair
  if (!DATA_REFERENCE_NAME.test(name)) {
    throw badFlag(
      '--input',
      `--input "${printable(spec)}": the name "${printable(name)}" becomes $WHARF_DATAREFERENCE_${printable(name)}, so it must start with a letter or "_" and hold only letters, digits and "_"; the format is ${INPUT_FORMAT}`,
    )
  }
  let mode: (typeof INPUT_MODES)[number] = 'download'
  let location = target
  const lastColon = target.lastIndexOf(':')
  const suffix = lastColon < 0 ? '' : target.slice(lastColon + 1)
  if ((INPUT_MODES as readonly string[]).includes(suffix)) {
    mode = suffix as (typeof INPUT_MODES)[number]
    location = target.slice(0, lastColon)
  } else if (suffix === 'upload') {
    throw badFlag(
      '--input',
      `--input "${printable(spec)}": an input is mounted or downloaded; to upload what the run writes use ${OUTPUT_FORMAT}`,
    )
  }
  const { datastore, pathOnDatastore } = splitDatastorePath(location)
  return referenceFrom(
    { name: '--input', spec, format: INPUT_FORMAT },
    () => new DataReference({ datastore, pathOnDatastore, dataReferenceName: name, mode }),
  )
}

/** `--output DATASTORE[:PATH]=LOCALPATH`: LOCALPATH (relative to the run's working folder) uploaded after the run. */
export function parseOutputFlag(spec: string): DataReference {
  const pair = splitPair(spec)
  if (pair === undefined) {
    throw badFlag(
      '--output',
      `--output "${printable(spec)}" is not DATASTORE[:PATH]=LOCALPATH; e.g. --output workspaceblobstore:models/{runId}=outputs/model uploads the run's outputs/model folder after it ends`,
    )
  }
  const [target, local] = pair
  const { datastore, pathOnDatastore } = splitDatastorePath(target)
  return referenceFrom(
    { name: '--output', spec, format: OUTPUT_FORMAT },
    () => new DataReference({ datastore, pathOnDatastore, mode: 'upload', pathOnCompute: local }),
  )
}

/** `--env K=V` pairs; INVALID_ARGUMENT for one without `=` or a key. */
export function parseEnvFlags(pairs: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw badFlag('--env', `--env "${printable(pair)}" is not KEY=VALUE; e.g. --env SEED=42`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}

/**
 * The config and experiment `wharf run submit` submits, from its flags and the script's arguments;
 * every mistake is INVALID_ARGUMENT naming the flag, before anything is sent.
 */
export function buildSubmitConfig(flags: SubmitFlags, args: readonly string[]): { config: ScriptRunConfig; experiment: string } {
  if (flags.script === undefined && flags.command === undefined) {
    throw badFlag('--script', 'what should the run execute? give --script FILE (its arguments after --) or --command "…"')
  }
  if (flags.script !== undefined && flags.command !== undefined) {
    throw badFlag(
      '--command',
      '--script and --command are exclusive: --script FILE -- ARGS runs a script, --command "…" a shell line',
    )
  }
  if (flags.command !== undefined && args.length > 0) {
    throw badFlag(
      '--command',
      `arguments after -- go with --script; with --command put them in the command itself ("${printable(args.join(' '))}")`,
    )
  }
  const sourceDirectory = path.resolve(flags.sourceDir)
  const experiment = flags.experiment ?? path.basename(sourceDirectory)
  if (!NAME_RULES.experiment.pattern.test(experiment)) {
    throw badFlag(
      '--experiment',
      flags.experiment === undefined
        ? `the source folder's name "${printable(experiment)}" is not an experiment name (${NAME_RULES.experiment.rule}); pass --experiment NAME`
        : `experiment name "${printable(experiment)}" is not valid: ${NAME_RULES.experiment.rule}`,
    )
  }
  const inputs = (flags.input ?? []).map(parseInputFlag)
  const outputs = (flags.output ?? []).map(parseOutputFlag)
  const tags = parseTagPairs(flags.tag)
  const config = new ScriptRunConfig({
    sourceDirectory,
    ...(flags.script !== undefined ? { script: flags.script, arguments: [...args] } : {}),
    ...(flags.command !== undefined ? { command: flags.command } : {}),
    inputs,
    outputs,
    environmentVariables: parseEnvFlags(flags.env),
    ...(flags.python !== undefined ? { python: flags.python } : {}),
    ...(flags.name !== undefined ? { displayName: flags.name } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
  })
  return { config, experiment }
}

// ---------------------------------------------------------------------------------------------------- following a run

function say(text: string): void {
  process.stderr.write(`${text}\n`)
}

/** `run <id> Completed in 0:00:03.120`. */
function summaryLine(info: RunInfo): string {
  const ms = durationMs(info)
  return `run ${info.id} ${info.status}${ms === undefined ? '' : ` in ${formatDuration(ms)}`}`
}

/** RUN_FAILED (exit 7) or RUN_CANCELED (exit 8) for a run that did not complete. */
function throwUnlessCompleted(info: RunInfo): void {
  if (info.status === 'Failed') {
    throw new WharfError(
      'RUN_FAILED',
      `run ${info.id} failed: ${info.error?.message ?? 'no reason given'}; its output: wharf run logs ${info.id}`,
      { details: { runId: info.id } },
    )
  }
  if (info.status === 'Canceled') {
    throw new WharfError('RUN_CANCELED', `run ${info.id} was canceled`, { details: { runId: info.id } })
  }
}

/**
 * Follows a run until it ends (its output on stdout with `showOutput`), prints the summary line and
 * fails with the run's exit code unless it completed. Ctrl-C: with `cancelOnInterrupt` the first one
 * cancels the run and keeps following, the next stops following; otherwise the first stops following.
 * Stopping leaves the run going and is ABORTED (exit 130), saying how to follow it again.
 */
async function followRun(run: Run, options: { showOutput: boolean; cancelOnInterrupt: boolean }): Promise<void> {
  const controller = new AbortController()
  let interrupts = 0
  const onInterrupt = (): void => {
    interrupts++
    if (options.cancelOnInterrupt && interrupts === 1) {
      say(`\ncancelling run ${run.id}; press Ctrl-C again to stop following`)
      run.cancel().catch((error: unknown) => say(`wharf: could not cancel run ${run.id}: ${(error as Error).message}`))
      return
    }
    controller.abort()
  }
  process.on('SIGINT', onInterrupt)
  let info: RunInfo
  try {
    info = await run.waitForCompletion({ showOutput: options.showOutput, raiseOnError: false, signal: controller.signal })
  } catch (error) {
    if (!controller.signal.aborted) throw error
    throw new WharfError(
      'ABORTED',
      `stopped following run ${run.id}; it goes on: follow it with wharf run logs -f ${run.id} (wharf run cancel ${run.id} stops it)`,
      { details: { runId: run.id }, cause: error },
    )
  } finally {
    process.off('SIGINT', onInterrupt)
  }
  say(summaryLine(info))
  throwUnlessCompleted(info)
}

async function submitRun(args: string[], flags: SubmitFlags): Promise<void> {
  const { config, experiment } = buildSubmitConfig(flags, args)
  const workspace = await connect(flags)
  // Ctrl-C while the snapshot uploads stops the submission; the runner marks a run it created Failed.
  const submitting = new AbortController()
  const stopSubmitting = (): void => submitting.abort()
  process.once('SIGINT', stopSubmitting)
  let run: Run
  try {
    run = await workspace.experiment(experiment).submit(config, { signal: submitting.signal })
  } catch (error) {
    if (!submitting.signal.aborted) throw error
    throw new WharfError('ABORTED', 'stopped submitting the run (Ctrl-C); nothing runs', { cause: error })
  } finally {
    process.off('SIGINT', stopSubmitting)
  }
  if (flags.detach === true) {
    process.stdout.write(`${run.id}\n`)
    say(`submitted run ${run.id} to experiment "${experiment}"; follow it with: wharf run logs -f ${run.id}`)
    return
  }
  say(`submitted run ${run.id} to experiment "${experiment}" (Ctrl-C cancels it)`)
  await followRun(run, { showOutput: true, cancelOnInterrupt: true })
}

/** The run named on the command line; RUN_NOT_FOUND before anything else is done. */
async function getRun(flags: ConnectionFlags, runId: string): Promise<Run> {
  return Run.get(await connect(flags), runId)
}

// ---------------------------------------------------------------------------------------------------- show

interface ShowFlags extends ConnectionFlags, OutputFlags {
  snapshot?: string
  overwrite?: boolean
}

/** `wharf run show` in JSON: the run as history shows it, and what a submitted run adds. */
interface SubmittedRunJson extends RunJson {
  snapshotId: string | null
  statusTimes: RunInfo['statusTimes']
  heartbeatAt: string | null
  cancelRequestedAt: string | null
  definition: RunInfo['definition']
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./$-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

function referenceRow(ref: DataReferenceConfig): string[] {
  return [
    ref.name,
    ref.datastore,
    ref.pathOnDatastore ?? '(all)',
    ref.mode,
    ref.pathOnCompute ?? '(runner picks)',
    ref.overwrite ? 'yes' : 'no',
  ]
}

function renderSubmittedRun(run: SubmittedRunJson, terminal: Terminal): string {
  const section = (title: string): string => `\n${paint(title, { style: 'bold', color: terminal.color })}\n`
  const pairs: [string, string | Cell][] = [
    ['Run', run.runId],
    ['Experiment', run.experiment],
    ['Name', run.displayName],
    ['Status', { text: run.status, style: statusStyle(run.status) }],
    ['Target', run.target],
    ['Snapshot', run.snapshotId ?? '(none: not a submitted run)'],
    ['Created', formatTime(run.createdAt)],
    ['Started', formatTime(run.startedAt)],
    ['Ended', formatTime(run.endedAt)],
    ['Duration', run.duration ?? ''],
  ]
  if (run.heartbeatAt) pairs.push(['Last heartbeat', formatTime(run.heartbeatAt)])
  if (run.cancelRequestedAt) pairs.push(['Cancel asked', formatTime(run.cancelRequestedAt)])
  if (run.error)
    pairs.push(['Error', { text: `${run.error.code ? `${run.error.code}: ` : ''}${run.error.message}`, style: 'red' }])
  let out = renderPairs(pairs, terminal)
  const times = Object.entries(run.statusTimes)
  if (times.length > 0) {
    out += section('Status times')
    out += renderTable(
      { headers: ['Status', 'Since (UTC)'], rows: times.map(([status, at]) => [status, formatTime(at)]) },
      terminal,
    )
  }
  const definition = run.definition
  if (definition) {
    out += section('Definition')
    const lines: [string, string][] = [
      ['Script', definition.script ?? '(a command)'],
      ['Command', definition.command.map(shellWord).join(' ')],
      ['Python', definition.python ?? 'python3 (default)'],
      ['Source datastore', definition.sourceDirectoryDataStore],
      ['Max duration', formatDuration(definition.maxRunDurationSeconds * 1000)],
      ...Object.entries(definition.environmentVariables).map(([key, value]): [string, string] => [`env ${key}`, value]),
    ]
    out += renderPairs(lines, terminal)
    out += section('Data references')
    out +=
      definition.dataReferences.length === 0
        ? '(none)\n'
        : renderTable(
            {
              headers: ['Name', 'Datastore', 'Path', 'Mode', 'On compute', 'Overwrite'],
              rows: definition.dataReferences.map(referenceRow),
            },
            terminal,
          )
  }
  if (run.error?.details) out += section('Error details') + run.error.details.trimEnd() + '\n'
  return out
}

/**
 * Writes the run's source snapshot into `folder` with the runner's materializeSnapshot (the same code
 * that lays it out for the run). A folder with files in it is refused unless `overwrite`: the snapshot's
 * files would replace them.
 */
async function downloadSnapshot(run: Run, options: { folder: string; overwrite: boolean }): Promise<void> {
  const snapshotId = run.info.snapshotId
  if (snapshotId === null) {
    throw new WharfError(
      'SNAPSHOT_NOT_FOUND',
      `run ${run.id} has no source snapshot: only submitted runs (wharf run submit, Experiment.submit) have one`,
      { details: { runId: run.id } },
    )
  }
  const folder = path.resolve(options.folder)
  const existing = await readdir(folder).catch(() => [])
  if (existing.length > 0 && !options.overwrite) {
    throw new WharfError(
      'FILE_EXISTS',
      `${folder} is not empty; give a new folder to --snapshot, or add --overwrite to write the snapshot's files over what is there`,
      { details: { path: folder } },
    )
  }
  const { materializeSnapshot } = await import('@wharf/runner')
  const snapshot = await materializeSnapshot(run.workspace.client, snapshotId, { folder })
  const count = snapshot.files.length
  say(`wrote the source snapshot of run ${run.id} (${count} file${count === 1 ? '' : 's'}, sha256 verified) to ${folder}`)
}

async function showRun(runId: string, flags: ShowFlags): Promise<void> {
  const run = await getRun(flags, runId)
  if (flags.snapshot !== undefined) await downloadSnapshot(run, { folder: flags.snapshot, overwrite: flags.overwrite === true })
  const info = run.info
  const json: SubmittedRunJson = {
    ...runJson(info),
    snapshotId: info.snapshotId,
    statusTimes: info.statusTimes,
    heartbeatAt: info.heartbeatAt,
    cancelRequestedAt: info.cancelRequestedAt,
    definition: info.definition,
  }
  printResult({ json, table: (terminal) => renderSubmittedRun(json, terminal) }, flags)
}

// ---------------------------------------------------------------------------------------------------- logs, cancel, wait

async function printLogs(runId: string, flags: ConnectionFlags & { follow?: boolean; log: string }): Promise<void> {
  const run = await getRun(flags, runId)
  for await (const text of run.logs(flags.log, { follow: flags.follow === true })) {
    if (!process.stdout.write(text)) await once(process.stdout, 'drain')
  }
}

async function cancelRun(runId: string, flags: ConnectionFlags & OutputFlags): Promise<void> {
  const run = await getRun(flags, runId)
  const requested = await run.cancel()
  const info = run.info
  const message = requested
    ? info.status === 'Canceled'
      ? `run ${run.id} canceled`
      : `cancel asked for run ${run.id}; its runner stops it and it ends Canceled (wharf run wait ${run.id} waits for that)`
    : info.cancelRequestedAt !== null && info.status !== 'Canceled'
      ? `a cancel was already asked for run ${run.id} (${info.status})`
      : `run ${run.id} had already ended (${info.status}); nothing to cancel`
  printResult({ json: { runId: run.id, cancelRequested: requested, status: info.status }, table: () => `${message}\n` }, flags)
}

// ---------------------------------------------------------------------------------------------------- registration

/** `wharf run …`: submit a script run and follow, list, show, cancel and wait for runs. */
export function registerRunCommands(program: Command): void {
  const group = commandGroup(program, {
    name: 'run',
    description: 'submitted runs: run a script from a source folder as a tracked run, follow its output, cancel it, inspect it',
    examples: [
      "wharf run submit --script train.py --input DATA=workspaceblobstore:mnist:download -- --data '$WHARF_DATAREFERENCE_DATA' --epochs 3",
      'wharf run submit --command "ls -la" --detach',
      'wharf run logs -f <runid>',
      'wharf run show <runid> --snapshot ./code',
    ],
  })

  withConnectionOptions(group.command('submit'))
    .description(
      'snapshot the source folder, start the run on this machine, and stream its output until it ends (exit 0 when it completed, 7 when it failed, 8 when canceled); Ctrl-C cancels it, a second Ctrl-C stops following',
    )
    .argument('[args...]', 'arguments of the script (after --)')
    .option('--source-dir <dir>', 'the folder snapshotted and run from', '.')
    .option('--experiment <name>', "the run's experiment (default: the source folder's name)")
    .option(
      '--script <file>',
      'the entry script, relative to the source folder: .py runs with --python (default python3), .js/.mjs with node, .ts with tsx, anything else as it is',
    )
    .option('--command <line>', 'a shell line to run instead of a script (through /bin/sh -c)')
    .option(
      '--input <NAME=DATASTORE[:PATH][:download|mount]>',
      'data the run reads, as $WHARF_DATAREFERENCE_<NAME> (a path) in the arguments and environment; downloaded before the script starts unless :mount (repeatable)',
      collect,
    )
    .option(
      '--output <DATASTORE[:PATH]=LOCALPATH>',
      'a path the run writes, uploaded to the datastore after it ends; {runId} in PATH is the run id (repeatable)',
      collect,
    )
    .option('--env <KEY=VALUE>', 'an environment variable of the script (repeatable)', collect)
    .option('--python <path>', 'the interpreter of a .py script (default python3)')
    .option('--name <display>', "the run's display name")
    .option('--tag <key=value>', 'a tag of the run (repeatable)', collect)
    .option('--detach', 'print the run id and return at once; the run goes on')
    .addHelpText(
      'after',
      "\nIn the script's arguments write an input as '$WHARF_DATAREFERENCE_<NAME>' (single quotes, so your shell leaves it alone):" +
        "\n  wharf run submit --script train.py --input DATA=workspaceblobstore:mnist:download -- --data '$WHARF_DATAREFERENCE_DATA'" +
        '\n  wharf run submit --source-dir ./job --command "python3 prep.py && python3 train.py" --env SEED=1 --detach',
    )
    .action((args: string[], flags: SubmitFlags) => submitRun(args, flags))

  addRunListCommand(group, {
    description: 'runs, submitted and others, newest first, as wharf history list shows them',
    examples: ['wharf run list --experiment mnist --status Running', 'wharf run list -o json --query "[].runId"'],
  })

  serverCommand(group, 'show')
    .description(
      'one run: status, when it entered each status, what it executes, its data references, the error; --snapshot downloads its source',
    )
    .argument('<runid>', 'run id')
    .option('--snapshot <dir>', "download the run's source snapshot into this folder (new or empty; sha256 verified)")
    .option('--overwrite', 'with --snapshot: write into a folder that is not empty')
    .addHelpText('after', '\nExamples:\n  wharf run show <runid>\n  wharf run show <runid> --snapshot ./code-of-run')
    .action((runId: string, flags: ShowFlags) => showRun(runId, flags))

  withConnectionOptions(group.command('logs'))
    .description("a run's live log: the script's output (std_log.txt) by default; -f follows it until the run ends")
    .argument('<runid>', 'run id')
    .option('-f, --follow', 'keep printing as the run writes, until it ends')
    .option('--log <name>', 'another log of the run (runner.txt: what the runner did)', STD_LOG)
    .action((runId: string, flags: ConnectionFlags & { follow?: boolean; log: string }) => printLogs(runId, flags))

  serverCommand(group, 'cancel')
    .description(
      'cancel a run: its runner stops the script (SIGTERM, then SIGKILL) and it ends Canceled; a finished run is left as it is',
    )
    .argument('<runid>', 'run id')
    .action((runId: string, flags: ConnectionFlags & OutputFlags) => cancelRun(runId, flags))

  withConnectionOptions(group.command('wait'))
    .description('wait until a run ends: exit 0 when it completed, 7 when it failed, 8 when canceled')
    .argument('<runid>', 'run id')
    .option('--show-output', "print the script's output as it comes (from the start)")
    .action(async (runId: string, flags: ConnectionFlags & { showOutput?: boolean }) => {
      const run = await getRun(flags, runId)
      await followRun(run, { showOutput: flags.showOutput === true, cancelOnInterrupt: false })
    })
}
