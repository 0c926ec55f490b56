import { once } from 'node:events'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { createHash } from 'node:crypto'
import type { Command } from 'commander'
import type { WharfClient } from '@wharf/client'
import {
  RUN_STATUSES,
  WharfError,
  type Artifact,
  type MetricSummary,
  type Run,
  type RunStatus,
  type RunWithMetrics,
} from '@wharf/contract'
import { formatBytes } from '@wharf/sdk'
import {
  collect,
  commandGroup,
  parseCount,
  parseTagPairs,
  printResult,
  serverCommand,
  type OutputFlags,
} from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import { isOutputFormat } from '../output/format.js'
import { renderPairs, renderTable, type Cell, type TableSpec } from '../output/table.js'
import { paint, statusStyle, type Terminal } from '../output/terminal.js'
import { formatTime, formatValue, sparkline } from '../output/values.js'
import { downloadAll, downloadOneTo } from '../transfer/download.js'
import { assetVersionView } from './asset.js'
import { artifactsUnder, lastValues, normalizePrefix, runJson, type RunJson } from './run-view.js'

type CommonFlags = ConnectionFlags & OutputFlags
/** Flags as commander parses them: the run may come as an argument instead of -r. */
type Parsed<T extends { run: string }> = Omit<T, 'run'> & { run?: string }

interface ListFlags extends CommonFlags {
  experiment?: string
  status?: string[]
  tag?: string[]
  top: string
}

interface InfoFlags extends CommonFlags {
  run: string
  artifact?: string
  outFile?: string
  overwrite?: boolean
}

interface DownloadFlags extends CommonFlags {
  run: string
  dir: string
  artifact?: string
  overwrite?: boolean
}

interface PromoteFlags extends CommonFlags {
  run: string
  artifactPath: string
  name: string
  description?: string
  tag?: string[]
}

/** Points of a series shown as numbers rather than a sparkline. */
const COMPACT_SERIES = 8
/** Columns of a sparkline. */
const SPARK_WIDTH = 24
/** Runs `history list` shows unless told otherwise. */
const DEFAULT_TOP = 100

function statusCell(status: string): Cell {
  return { text: status, style: statusStyle(status) }
}

function parseStatuses(raw: readonly string[] | undefined): RunStatus[] | undefined {
  if (!raw || raw.length === 0) return undefined
  const statuses = raw
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
  for (const status of statuses) {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `--status "${status}" is not a run status; use one of ${RUN_STATUSES.join(', ')}`,
        {
          details: { flag: '--status' },
        },
      )
    }
  }
  return statuses as RunStatus[]
}

// ---------------------------------------------------------------------------------------------------- list

function runsTable(runs: readonly RunJson[]): TableSpec {
  const metricNames = [...new Set(runs.flatMap((run) => Object.keys(run.metrics)))].sort()
  const m = metricNames.length
  const [duration, runId, name, script, start, status] = [m, m + 1, m + 2, m + 3, m + 4, m + 5]
  return {
    keep: [runId, status],
    // On a narrow terminal: which run, how it ended, its name and numbers before when, how long, what.
    priority: [runId, status, name, ...metricNames.map((_, i) => i), start, duration, script],
    headers: [...metricNames, 'Duration', 'Run id', 'Name', 'Script', 'Start time (UTC)', 'Status'],
    rows: runs.map((run) => [
      ...metricNames.map((metric) => formatValue(run.metrics[metric])),
      run.duration ?? '',
      run.runId,
      run.displayName === run.runId ? '' : run.displayName,
      run.scriptName ?? '',
      formatTime(run.startedAt),
      statusCell(run.status),
    ]),
  }
}

async function listRuns(flags: ListFlags): Promise<void> {
  const top = parseCount(flags.top, '--top')
  const statuses = parseStatuses(flags.status)
  const tags = flags.tag ?? []
  const { client } = await connect(flags)
  const runs: RunWithMetrics[] = []
  let more = false
  const limit = top === 0 ? Number.POSITIVE_INFINITY : top
  for await (const run of client.listRuns({
    includeMetrics: 'true',
    pageSize: top === 0 ? 1000 : Math.min(1000, top + 1),
    ...(flags.experiment !== undefined ? { experiment: flags.experiment } : {}),
    ...(statuses ? { status: statuses } : {}),
    ...(tags.length > 0 ? { tag: tags } : {}),
  })) {
    if (runs.length >= limit) {
      more = true
      break
    }
    runs.push(run)
  }
  const json = runs.map((run) => runJson(run))
  printResult({ json, table: runsTable(json) }, flags)
  if (more && process.stdout.isTTY) process.stderr.write(`(the newest ${top} runs; --top 0 shows all)\n`)
}

// ---------------------------------------------------------------------------------------------------- info

interface MetricJson {
  name: string
  kind: MetricSummary['kind']
  count: number
  lastStep: number
  last: MetricSummary['last']
  min: MetricSummary['min']
  max: MetricSummary['max']
  /** Every value, for short series (up to 8 points). */
  values?: (number | string | null)[]
  /** A sparkline of the series (numbers with more than one point), as the table shows it. */
  trend?: string
}

interface RunDetailJson extends RunJson {
  /** The run's page in the studio the server serves. */
  studioUrl: string
  metricDetails: MetricJson[]
  artifacts: Pick<Artifact, 'path' | 'size' | 'sha256' | 'contentType'>[]
}

async function metricDetails(client: WharfClient, runId: string): Promise<MetricJson[]> {
  const summaries = await client.listMetrics(runId)
  return Promise.all(
    summaries.map(async (summary): Promise<MetricJson> => {
      const base: MetricJson = {
        name: summary.name,
        kind: summary.kind,
        count: summary.count,
        lastStep: summary.lastStep,
        last: summary.last,
        min: summary.min,
        max: summary.max,
      }
      if (summary.count <= 1) return base
      if (summary.count <= COMPACT_SERIES) {
        const points = await client.getMetricSeries(runId, { name: summary.name }).toArray()
        return { ...base, values: points.map((p) => p.value ?? p.text ?? null) }
      }
      if (summary.kind !== 'number') return base
      const buckets = await client.getMetricBuckets(runId, { name: summary.name, buckets: SPARK_WIDTH })
      return { ...base, trend: sparkline(buckets.buckets.map((b) => (typeof b.last === 'number' ? b.last : null))) }
    }),
  )
}

/** The studio page of a run (charts, artifacts, logs), on the server the client talks to. */
function studioRunUrl(client: WharfClient, runId: string): string {
  return `${client.url}/w/${encodeURIComponent(client.workspace)}/runs/${encodeURIComponent(runId)}`
}

async function runDetail(client: WharfClient, run: Run): Promise<RunDetailJson> {
  const [metrics, artifacts] = await Promise.all([metricDetails(client, run.id), client.listArtifacts(run.id).toArray()])
  const lasts = Object.fromEntries(metrics.map((m) => [m.name, m.last]))
  return {
    ...runJson(run, lasts),
    studioUrl: studioRunUrl(client, run.id),
    metricDetails: metrics,
    artifacts: artifacts.map((a) => ({ path: a.path, size: a.size, sha256: a.sha256, contentType: a.contentType })),
  }
}

function trendText(metric: MetricJson): string {
  if (metric.values) {
    const numbers = metric.values.map((v) => (typeof v === 'number' ? v : null))
    const shown = metric.values.map((v) => formatValue(v)).join(', ')
    return metric.kind === 'number' ? `${sparkline(numbers)}  ${shown}` : shown
  }
  return metric.trend ?? ''
}

function section(title: string, terminal: Terminal): string {
  return `\n${paint(title, { style: 'bold', color: terminal.color })}\n`
}

function renderRunDetail(run: RunDetailJson, terminal: Terminal): string {
  const pairs: [string, string | Cell][] = [
    ['Run', run.runId],
    ['Experiment', run.experiment],
    ['Name', run.displayName],
    ['Status', statusCell(run.status)],
    ['Script', run.scriptName ?? ''],
    ['Target', run.target],
    ['Created', formatTime(run.createdAt)],
    ['Started', formatTime(run.startedAt)],
    ['Ended', formatTime(run.endedAt)],
    ['Duration', run.duration ?? ''],
    ['Studio', run.studioUrl],
  ]
  if (run.parentRunId) pairs.push(['Parent run', run.parentRunId])
  if (run.description) pairs.push(['Description', run.description])
  if (run.error)
    pairs.push(['Error', { text: `${run.error.code ? `${run.error.code}: ` : ''}${run.error.message}`, style: 'red' }])
  let out = renderPairs(pairs, terminal)
  if (run.error?.details) out += section('Error details', terminal) + run.error.details.trimEnd() + '\n'
  const tags = Object.entries(run.tags)
  if (tags.length > 0) out += section('Tags', terminal) + renderPairs(tags, terminal)
  const properties = Object.entries(run.properties)
  if (properties.length > 0) out += section('Properties', terminal) + renderPairs(properties, terminal)
  out += section('Metrics', terminal)
  out +=
    run.metricDetails.length === 0
      ? '(none)\n'
      : renderTable(
          {
            headers: ['Name', 'Last', 'Min', 'Max', 'Points', 'Series'],
            rows: run.metricDetails.map((m) => [
              m.name,
              formatValue(m.last),
              formatValue(m.min),
              formatValue(m.max),
              String(m.count),
              trendText(m),
            ]),
          },
          terminal,
        )
  out += section('Artifacts', terminal)
  out +=
    run.artifacts.length === 0
      ? '(none)\n'
      : renderTable(
          {
            headers: ['Path', 'Size', 'Type', 'sha256'],
            rows: run.artifacts.map((a) => [a.path, formatBytes(a.size), a.contentType, a.sha256.slice(0, 12)]),
          },
          terminal,
        )
  return out
}

async function showRun(client: WharfClient, options: { run: Run; flags: OutputFlags }): Promise<void> {
  const detail = await runDetail(client, options.run)
  printResult({ json: detail, table: (terminal) => renderRunDetail(detail, terminal) }, options.flags)
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|yaml|x-yaml|x-ndjson|javascript|x-sh|toml)|[^;]*\+(json|xml))/

/** True when the first bytes look like text: no NUL byte and valid UTF-8 (a cut sequence at the end is fine). */
function looksLikeText(head: Uint8Array): boolean {
  if (head.includes(0)) return false
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true })
    return true
  } catch {
    return false
  }
}

/** Where `info -a` writes: `-f FILE`, or `-o FILE` (a value that is not a format name), or stdout. */
function artifactDestination(flags: InfoFlags): string | undefined {
  if (flags.outFile !== undefined) return flags.outFile
  if (flags.output === undefined) return undefined
  if (isOutputFormat(flags.output)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `with -a the artifact is written as it is, so -o takes a file name, and "${flags.output}" is a format name; to save to a file called "${flags.output}" write -f ${flags.output} (or -o ./${flags.output})`,
      { details: { flag: '-o' } },
    )
  }
  return flags.output
}

async function writeArtifact(client: WharfClient, flags: InfoFlags & { artifact: string }): Promise<void> {
  const wanted = normalizePrefix(flags.artifact)
  const found = (await client.listArtifacts(flags.run, { prefix: wanted }).toArray()).find((a) => a.path === wanted)
  if (!found) {
    throw new WharfError(
      'ARTIFACT_NOT_FOUND',
      `run "${flags.run}" has no artifact "${wanted}"; wharf history info -r ${flags.run} lists its artifacts`,
      {
        details: { runId: flags.run, path: wanted },
      },
    )
  }
  const label = `artifact "${found.path}"`
  const destination = artifactDestination(flags)
  if (destination !== undefined) {
    const target = path.resolve(destination)
    await downloadOneTo(
      target,
      { ...found, fetch: (call) => client.downloadArtifact(flags.run, found.path, call) },
      { overwrite: flags.overwrite === true },
    )
    process.stderr.write(`wrote ${found.path} to ${target} (${formatBytes(found.size)}, sha256 verified)\n`)
    return
  }
  const response = await client.downloadArtifact(flags.run, found.path)
  if (!response.body) throw new WharfError('INTERNAL', `the server sent no body for ${label}`)
  const hash = createHash('sha256')
  let received = 0
  let checked = !process.stdout.isTTY || TEXT_TYPES.test(found.contentType)
  for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) as AsyncIterable<Buffer>) {
    if (!checked) {
      checked = true
      if (!looksLikeText(chunk.subarray(0, 8192))) {
        await response.body.cancel().catch(() => undefined)
        const file = path.basename(found.path)
        throw new WharfError(
          'INVALID_ARGUMENT',
          `artifact "${found.path}" is binary (${found.contentType}, ${formatBytes(found.size)}); not writing it to the terminal. Save it with: wharf history info -r ${flags.run} -a ${found.path} -f ${file}   (or pipe it: … > ${file})`,
        )
      }
    }
    hash.update(chunk)
    received += chunk.length
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain')
  }
  const sha256 = hash.digest('hex')
  if (received !== found.size || sha256 !== found.sha256) {
    throw new WharfError(
      'INTERNAL',
      `${label} arrived damaged (sha256 ${sha256}, expected ${found.sha256}); the output above is incomplete, run the command again`,
    )
  }
}

// ---------------------------------------------------------------------------------------------------- download

async function downloadRun(flags: DownloadFlags): Promise<void> {
  const { client } = await connect(flags)
  await client.getRun(flags.run) // RUN_NOT_FOUND names the run before anything else
  const artifacts = await artifactsUnder(client, { runId: flags.run, prefix: flags.artifact })
  const outcomes = await downloadAll(
    artifacts.map((a) => ({
      path: a.path,
      size: a.size,
      sha256: a.sha256,
      fetch: (call) => client.downloadArtifact(flags.run, a.path, call),
    })),
    { dir: flags.dir, overwrite: flags.overwrite === true },
  )
  const directory = path.resolve(flags.dir)
  const json = { runId: flags.run, directory, files: outcomes }
  printResult(
    {
      json,
      table: (terminal) => {
        const fetched = outcomes.filter((o) => o.result === 'downloaded')
        const bytes = fetched.reduce((sum, o) => sum + o.size, 0)
        const summary =
          outcomes.length === 0
            ? `run ${flags.run} has no artifacts\n`
            : `downloaded ${fetched.length} file${fetched.length === 1 ? '' : 's'} (${formatBytes(bytes)}, sha256 verified) to ${directory}` +
              `${outcomes.length > fetched.length ? `; ${outcomes.length - fetched.length} already there` : ''}\n`
        return outcomes.length === 0
          ? summary
          : renderTable(
              { headers: ['Path', 'Size', 'Result'], rows: outcomes.map((o) => [o.path, formatBytes(o.size), o.result]) },
              terminal,
            ) + summary
      },
    },
    flags,
  )
}

// ---------------------------------------------------------------------------------------------------- compare

async function compareRuns(runIds: string[], flags: CommonFlags): Promise<void> {
  if (runIds.length < 2) {
    throw new WharfError('INVALID_ARGUMENT', 'compare needs two runs or more: wharf history compare <run> <run> [<run>…]')
  }
  const { client } = await connect(flags)
  const runs = await Promise.all(
    runIds.map(async (id) => {
      const [run, metrics] = await Promise.all([client.getRun(id), client.listMetrics(id)])
      return runJson(run, lastValues(metrics))
    }),
  )
  const table = (terminal: Terminal): string => {
    const row = (label: string, values: string[]): (string | Cell)[] => {
      const differs = new Set(values).size > 1
      return [label, ...values.map((text) => ({ text, style: differs ? ('cyan' as const) : undefined }))]
    }
    const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort()
    const tagKeys = [...new Set(runs.flatMap((r) => Object.keys(r.tags)))].sort()
    const rows = [
      row(
        'Experiment',
        runs.map((r) => r.experiment),
      ),
      ['Status', ...runs.map((r) => statusCell(r.status))],
      row(
        'Script',
        runs.map((r) => r.scriptName ?? ''),
      ),
      row(
        'Started',
        runs.map((r) => formatTime(r.startedAt)),
      ),
      row(
        'Duration',
        runs.map((r) => r.duration ?? ''),
      ),
      ...tagKeys.map((key) =>
        row(
          `tag ${key}`,
          runs.map((r) => r.tags[key] ?? ''),
        ),
      ),
      ...metricNames.map((name) =>
        row(
          name,
          runs.map((r) => formatValue(r.metrics[name])),
        ),
      ),
    ]
    return renderTable({ headers: ['', ...runs.map((r) => r.runId)], rows }, terminal)
  }
  printResult({ json: runs, table }, flags)
}

// ---------------------------------------------------------------------------------------------------- promote

async function promote(flags: PromoteFlags): Promise<void> {
  const tags = parseTagPairs(flags.tag)
  const { client } = await connect(flags)
  await client.getRun(flags.run)
  const artifactPath = normalizePrefix(flags.artifactPath)
  const matching = await artifactsUnder(client, { runId: flags.run, prefix: artifactPath }).catch((error: unknown) => {
    if (error instanceof WharfError && error.code === 'ARTIFACT_NOT_FOUND') {
      throw new WharfError('ARTIFACT_NOT_FOUND', `nothing to promote: ${error.message}`, {
        details: error.details ?? {},
        cause: error,
      })
    }
    throw error
  })
  if (matching.length === 0) {
    throw new WharfError(
      'ARTIFACT_NOT_FOUND',
      `nothing to promote: run "${flags.run}" has no artifacts; upload some with run.uploadFile or write them to ./outputs`,
    )
  }
  const version = await client.promoteAsset({
    name: flags.name,
    runId: flags.run,
    artifactPath,
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
  })
  printResult(assetVersionView(version), flags)
}

/**
 * The `list` command of a group (`wharf history list`, `wharf run list`): one listing, one set of
 * filters and one output for every group that lists runs.
 */
export function addRunListCommand(group: Command, help: { description: string; examples: readonly string[] }): Command {
  return serverCommand(group, 'list')
    .description(help.description)
    .option('--experiment <name>', 'only runs of this experiment')
    .option('--status <status>', `only runs in this status (repeatable, or comma-separated): ${RUN_STATUSES.join(', ')}`, collect)
    .option('--tag <key[=value]>', 'only runs with this tag, or this tag and value (repeatable: all must match)', collect)
    .option('--top <n>', `at most this many runs (0 for all)`, String(DEFAULT_TOP))
    .addHelpText('after', `\nExamples:\n${help.examples.map((line) => `  ${line}`).join('\n')}`)
    .action((flags: ListFlags) => listRuns(flags))
}

// ---------------------------------------------------------------------------------------------------- registration

const RUN_HELP = 'run id (wharf history list shows them)'
const RUN_ARG_HELP = 'run id, as an argument or with -r'

/**
 * The run a command names: `<runid>` or `-r <runid>` (the az ml way), or both when they agree.
 * INVALID_ARGUMENT, with the command to write, when there is none or two different ones.
 */
function chosenRun(positional: string | undefined, options: { flag: string | undefined; command: string }): string {
  if (positional !== undefined && options.flag !== undefined && positional !== options.flag) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `two runs given, "${positional}" and -r "${options.flag}"; name one: wharf history ${options.command} <runid>`,
      {
        details: { flag: '--run' },
      },
    )
  }
  const run = positional ?? options.flag
  if (run === undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `which run? write wharf history ${options.command} <runid> (or -r <runid>); wharf history list shows the run ids`,
      {
        details: { flag: '--run' },
      },
    )
  }
  return run
}

/** `wharf history …`: list, inspect, download, compare and promote runs, as `az ml history` does. */
export function registerHistoryCommands(program: Command): void {
  const history = commandGroup(program, {
    name: 'history',
    description: 'run history: list runs, show one, download its artifacts, compare runs, promote artifacts to assets',
    examples: ['wharf history list --top 10', 'wharf history last', 'wharf history info <runid>'],
  })

  addRunListCommand(history, {
    description: "runs, newest first: metric columns (each run's last value), then duration, run id, script, start time, status",
    examples: [
      'wharf history list --experiment mnist --status Completed --top 5',
      'wharf history list --tag team=vision -o tsv --query "[].runId"',
      'wharf history list --query "max_by([?metrics.accuracy != null], &metrics.accuracy).runId"',
    ],
  })

  serverCommand(history, 'last')
    .description('the most recent run in full (of one experiment with --experiment)')
    .option('--experiment <name>', 'the most recent run of this experiment')
    .addHelpText('after', '\nExamples:\n  wharf history last\n  wharf history last -o json --query metrics')
    .action(async (flags: CommonFlags & { experiment?: string }) => {
      const { client, name } = await connect(flags)
      let latest: Run | undefined
      for await (const run of client.listRuns({
        pageSize: 1,
        ...(flags.experiment !== undefined ? { experiment: flags.experiment } : {}),
      })) {
        latest = run
        break
      }
      if (!latest) {
        throw new WharfError(
          'RUN_NOT_FOUND',
          flags.experiment !== undefined
            ? `experiment "${flags.experiment}" has no runs yet in workspace "${name}"; wharf experiment list shows the experiments`
            : `workspace "${name}" has no runs yet; log one with the SDK (see "Log a run and look at it" in the README)`,
        )
      }
      await showRun(client, { run: latest, flags })
    })

  serverCommand(history, 'info')
    .description(
      "one run: status, times, tags, properties, metrics (series as sparklines), artifacts, the error if it failed; with -a, one artifact's bytes",
    )
    .argument('[runid]', RUN_ARG_HELP)
    .option('-r, --run <runid>', RUN_HELP)
    .option('-a, --artifact <path>', 'write this artifact to stdout (or to -f FILE); binary is never written to a terminal')
    .option('-f, --out-file <file>', 'with -a: save the artifact to this file (sha256 verified; an identical file is left alone)')
    .option('--overwrite', 'with -f: replace a file that exists with different content')
    .addHelpText(
      'after',
      '\nWith -a, -o takes a file name, as in az ml history (-o model.bin); a format name there is refused, use -f.\n' +
        '\nExamples:\n  wharf history info 01jqzk4h7m3d9x6b2c8v5n0wre\n  wharf history info -r 01jqzk4h7m3d9x6b2c8v5n0wre -a outputs/log.txt | less\n' +
        '  wharf history info -r 01jqzk4h7m3d9x6b2c8v5n0wre -a outputs/model.bin -f model.bin',
    )
    .action(async (runId: string | undefined, raw: Parsed<InfoFlags>) => {
      const flags = { ...raw, run: chosenRun(runId, { flag: raw.run, command: 'info' }) }
      const { client } = await connect(flags)
      const run = await client.getRun(flags.run)
      if (flags.artifact !== undefined) {
        if (flags.query !== undefined)
          throw new WharfError('INVALID_ARGUMENT', '--query does not apply to -a (the artifact is written as it is)')
        await writeArtifact(client, { ...flags, artifact: flags.artifact })
        return
      }
      if (flags.outFile !== undefined)
        throw new WharfError('INVALID_ARGUMENT', '-f/--out-file goes with -a <artifact>; without -a use -o json > FILE')
      await showRun(client, { run, flags })
    })

  serverCommand(history, 'download')
    .description(
      "download a run's artifacts (all, or those under --artifact) into a folder, keeping their paths; sha256 verified, with a progress bar on a terminal",
    )
    .argument('[runid]', RUN_ARG_HELP)
    .option('-r, --run <runid>', RUN_HELP)
    .option('-d, --dir <dir>', 'folder to download into', '.')
    .option('--artifact <prefix>', 'only this artifact, or the artifacts under this folder (e.g. outputs/model)')
    .option('--overwrite', 'replace files that exist with different content (identical ones are always left alone)')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf history download 01jqzk4h7m3d9x6b2c8v5n0wre -d ./mnist-run\n  wharf history download -r 01jqzk4h7m3d9x6b2c8v5n0wre --artifact outputs/model --overwrite',
    )
    .action((runId: string | undefined, flags: Parsed<DownloadFlags>) =>
      downloadRun({ ...flags, run: chosenRun(runId, { flag: flags.run, command: 'download' }) }),
    )

  serverCommand(history, 'compare')
    .description('two runs or more side by side: status, script, times, tags and last metric values (differences highlighted)')
    .argument('<runs...>', 'run ids')
    .addHelpText('after', '\nExample:\n  wharf history compare 01jqzk4h7m3d9x6b2c8v5n0wre 01jqzm2p8s6f0y3a7e9t4k1gbd')
    .action((runIds: string[], flags: CommonFlags) => compareRuns(runIds, flags))

  serverCommand(history, 'promote')
    .description(
      "make a run's artifact (or folder of artifacts) a version of a named asset: version 1, or the next one if the name exists",
    )
    .argument('[runid]', RUN_ARG_HELP)
    .option('-r, --run <runid>', RUN_HELP)
    // Commander takes one-letter short flags only; runCli rewrites az's `-ap` to `--artifact-path`.
    .requiredOption('--artifact-path <path>', '(-ap) artifact or folder prefix in the run, e.g. outputs/model')
    .requiredOption('-n, --name <name>', 'asset name')
    .option('--description <text>', 'description of this version')
    .option('--tag <key=value>', 'tag of this version (repeatable)', collect)
    .addHelpText(
      'after',
      '\nExample:\n  wharf history promote -r 01jqzk4h7m3d9x6b2c8v5n0wre -ap outputs/model -n mnist-model --tag stage=candidate',
    )
    .action((runId: string | undefined, flags: Parsed<PromoteFlags>) =>
      promote({ ...flags, run: chosenRun(runId, { flag: flags.run, command: 'promote' }) }),
    )
}
