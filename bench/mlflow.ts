/**
 * mlflow.compare: Wharf side by side with a real MLflow 3 tracking server (SQLite backend), on the
 * same machine in the same run, on the two shapes an MLflow user notices:
 *
 * - ingest: MlflowClient.log_batch from 8 threads, 1,000 metrics per call (MLflow's own cap), 4 names
 *   x 250 explicit steps with explicit timestamps, each thread into its own run; Wharf gets the same
 *   points as columnar HTTP batches from 8 concurrent writers (httpIngestRate in ingest.ts).
 * - read: MlflowClient.get_metric_history on one 100,000-point metric; Wharf's raw series route with
 *   pageSize=100000, paged until done. Both sides check they got every step back before reporting.
 *
 * The MLflow side runs in a virtualenv cached at $WHARF_BENCH_CACHE/mlflow-venv (default
 * ~/.cache/wharf-bench/mlflow-venv) and reused when it already imports mlflow 3; where Python, venv
 * or pip is missing, or the install fails, the bench prints one `skipped:` line and returns nothing.
 * The server runs with MLflow's defaults (4 uvicorn workers) except two settings a loaded machine
 * needs: job execution is off (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false; it starts seven huey
 * consumer processes that have nothing to do with tracking), and uvicorn's worker health check waits
 * 120 s instead of 5 s (with 5 s, workers busy in a log_batch were killed and restarted every few
 * seconds on our 2 shared cores, and the client's retries dominated the figure).
 *
 * Measured 2026-11-30 on the 2 shared cores of the dev machine (load average ~15-20 from other agents,
 * so treat absolute figures as rough; the ratios are what the run compares), MLflow 3.17.2, Python
 * 3.11: `python3 -m venv` + `pip install 'mlflow>=3,<4'` took 2 min 54 s the first time
 * (6 min 26 s for a second fresh install, with other agents' builds running).
 * `npm run bench -- mlflow.compare` (80,000 points x 3 rounds, 3 reads; 17.5 min in all), medians:
 *   log_batch, 8 threads:        MLflow 1,386 points/s   Wharf 36,387 points/s   Wharf/MLflow 26.3
 *   100k-point history read:     MLflow 49,452 ms        Wharf 2,084 ms          MLflow ms/Wharf ms 23.7
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT, compared, median, startServerProcess, tempDir, type Bench, type BenchResult } from './harness.js'
import { WRITERS, httpIngestRate, post } from './ingest.js'

const POINTS = Number(process.env.WHARF_BENCH_MLFLOW_POINTS ?? 80_000)
const WARMUP_POINTS = WRITERS * 1000
const READ_POINTS = Number(process.env.WHARF_BENCH_MLFLOW_READ_POINTS ?? 100_000)
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
const READS = Number(process.env.WHARF_BENCH_MLFLOW_READS ?? 3)
const MLFLOW_WORKERS = Number(process.env.WHARF_BENCH_MLFLOW_WORKERS ?? 4)
const PYTHON = process.env.WHARF_BENCH_PYTHON ?? 'python3'
const CACHE = process.env.WHARF_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'wharf-bench')
const VENV = path.join(CACHE, 'mlflow-venv')
const MLFLOW_REQUIREMENT = 'mlflow>=3,<4'
const LOAD_SCRIPT = path.join(REPO_ROOT, 'bench', 'mlflow_load.py')
/** MLflow 3 took 115 s to answer /health on the loaded dev machine; give it room. */
/** In the read's result name, so a run with another size never reports as 100k. */
const READ_LABEL = `${READ_POINTS / 1000}k`
const STARTUP_TIMEOUT_MS = Number(process.env.WHARF_BENCH_MLFLOW_STARTUP_MS ?? 300_000)
/** The page size the raw series route allows at most (`metricPageSize`): one page per 100k read. */
const WHARF_PAGE_SIZE = 100_000

interface ProgramResult {
  code: number | null
  stdout: string
  stderr: string
  /** Set when the program could not be started at all (e.g. ENOENT). */
  startError?: Error
}

/** Runs a program to its end and collects its output; never rejects, the caller reads `code`. */
function runProgram(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', (startError) => resolve({ code: null, stdout: '', stderr: '', startError }))
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }))
  })
}

/** The line of a program's output that says most about why it failed: its last ERROR line, else its last line. */
function failureLine(result: ProgramResult): string {
  if (result.startError) return result.startError.message
  const lines = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.includes('is ignored: it is neither a file nor a directory'))
  return lines.findLast((line) => line.startsWith('ERROR')) ?? lines.at(-1) ?? `exit code ${result.code}`
}

/** The version of mlflow the virtualenv imports, or undefined when it has none (or no virtualenv). */
async function installedMlflow(python: string): Promise<string | undefined> {
  const result = await runProgram(python, ['-c', 'import mlflow; print(mlflow.__version__)'])
  return result.code === 0 ? result.stdout.trim() : undefined
}

/** The cached virtualenv's python with mlflow 3, made on first use; or why there cannot be one. */
async function mlflowPython(): Promise<{ python: string; version: string } | { skipped: string }> {
  const python = path.join(VENV, 'bin', 'python')
  const cached = await installedMlflow(python)
  if (cached?.startsWith('3.')) return { python, version: cached }

  const probe = await runProgram(PYTHON, ['--version'])
  if (probe.code !== 0) return { skipped: `${PYTHON} is not available (${failureLine(probe)}); set WHARF_BENCH_PYTHON` }
  if (cached === undefined) {
    const venv = await runProgram(PYTHON, ['-m', 'venv', '--clear', VENV])
    if (venv.code !== 0) return { skipped: `${PYTHON} -m venv failed (${failureLine(venv)}); install python3-venv` }
  }
  process.stderr.write(`# installing ${MLFLOW_REQUIREMENT} into ${VENV} (first run only; a few minutes)\n`)
  const started = performance.now()
  const install = await runProgram(python, ['-m', 'pip', 'install', '--quiet', MLFLOW_REQUIREMENT])
  if (install.code !== 0) return { skipped: `pip install ${MLFLOW_REQUIREMENT} failed: ${failureLine(install)}` }
  process.stderr.write(`# installed in ${Math.round((performance.now() - started) / 1000)} s\n`)
  const version = await installedMlflow(python)
  if (!version?.startsWith('3.')) return { skipped: `the virtualenv at ${VENV} imports mlflow ${version ?? 'not at all'}` }
  return { python, version }
}

/** A TCP port nobody listens on right now (the OS picks it; we release it for the server). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))))
    })
  })
}

/** Resolves when the process has exited, or after `ms` (whichever comes first). */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Signals the whole process group (uvicorn's supervisor and its workers); a group already gone is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

interface MlflowServer {
  url: string
  stop(): Promise<void>
}

/** Starts `mlflow server` on SQLite in `dir` and waits for /health; the group is killed if it never answers. */
async function startMlflowServer(venv: string, dir: string): Promise<MlflowServer | { skipped: string }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const logFile = path.join(dir, 'mlflow-server.log')
  const log = openSync(logFile, 'w')
  const child = spawn(
    path.join(venv, 'bin', 'mlflow'),
    [
      'server',
      ...['--backend-store-uri', `sqlite:///${path.join(dir, 'mlflow.db')}`],
      ...['--default-artifact-root', path.join(dir, 'artifacts')],
      ...['--host', '127.0.0.1', '--port', String(port), '--workers', String(MLFLOW_WORKERS)],
      ...['--uvicorn-opts', '--timeout-worker-healthcheck 120'],
    ],
    {
      detached: true, // its own process group, so stop() reaches the uvicorn workers too
      stdio: ['ignore', log, log],
      env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
    },
  )
  closeSync(log)
  const stop = async (): Promise<void> => {
    signalGroup(child, 'SIGTERM')
    await exited(child, 15_000)
    signalGroup(child, 'SIGKILL')
  }
  const deadline = Date.now() + STARTUP_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break
    const healthy = await fetch(`${url}/health`).then(
      (response) => response.ok,
      () => false,
    )
    if (healthy) return { url, stop }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  await stop()
  const tail = (await readFile(logFile, 'utf8')).trim().split('\n').at(-1) ?? ''
  return { skipped: `mlflow server did not answer ${url}/health within ${STARTUP_TIMEOUT_MS / 1000} s (${tail})` }
}

/** Runs bench/mlflow_load.py and parses the JSON it prints; a failed load is an error, not a skip. */
async function mlflowLoad<T>(python: string, args: string[]): Promise<T> {
  const result = await runProgram(python, [LOAD_SCRIPT, ...args])
  if (result.code !== 0) throw new Error(`mlflow_load.py ${args[0]} failed: ${failureLine(result)}`)
  return JSON.parse(result.stdout) as T
}

/** Logs one `READ_POINTS`-point metric named loss (steps 0.., explicit times) to a new Wharf run. */
async function wharfReadRun(url: string): Promise<string> {
  const response = await fetch(`${url}/api/v1/workspaces/default/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ experiment: 'bench-read', displayName: 'read 100k', status: 'Running' }),
  })
  const runId = ((await response.json()) as { id: string }).id
  const agent = new http.Agent({ keepAlive: true })
  const target = new URL(`${url}/api/v1/workspaces/default/runs/${runId}/metrics`)
  const now = Date.now()
  for (let start = 0, sequence = 0; start < READ_POINTS; start += 1000, sequence++) {
    const steps = Array.from({ length: Math.min(1000, READ_POINTS - start) }, (_, i) => start + i)
    const series = [{ name: 'loss', steps, values: steps.map((s) => s / 1000), times: steps.map((s) => now + s) }]
    await post(agent, target, JSON.stringify({ writerId: 'bench-read', sequence, series }))
  }
  agent.destroy()
  return runId
}

/** Milliseconds to read the whole raw series, checked: every step back, in order. */
async function wharfReadMs(url: string, runId: string): Promise<number> {
  const started = performance.now()
  const steps: number[] = []
  let pageToken: string | undefined
  do {
    const query = new URLSearchParams({ name: 'loss', pageSize: String(WHARF_PAGE_SIZE) })
    if (pageToken !== undefined) query.set('pageToken', pageToken)
    const response = await fetch(`${url}/api/v1/workspaces/default/runs/${runId}/metrics/series?${query.toString()}`)
    if (!response.ok) throw new Error(`series read failed: ${response.status} ${await response.text()}`)
    const page = (await response.json()) as { items: { step: number }[]; nextPageToken?: string }
    for (const item of page.items) steps.push(item.step)
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  const ms = performance.now() - started
  // A figure for a wrong answer is worse than none.
  if (steps.length !== READ_POINTS || steps.some((step, i) => step !== i)) {
    throw new Error(`the series read returned ${steps.length} points, expected steps 0..${READ_POINTS - 1} in order`)
  }
  return ms
}

/** Wharf on the same shapes: ingest rates (warm-up, then ROUNDS) and READS timed reads after one warm-up. */
async function measureWharf(dir: string): Promise<{ rates: number[]; ms: number[] }> {
  const server = await startServerProcess({ dataDir: path.join(dir, 'wharf') })
  try {
    const ingest = { form: 'series', explicitSteps: true } as const
    await httpIngestRate(server, { ...ingest, round: -1, points: WARMUP_POINTS })
    const rates: number[] = []
    for (let r = 0; r < ROUNDS; r++) rates.push((await httpIngestRate(server, { ...ingest, round: r, points: POINTS })).rate)
    const runId = await wharfReadRun(server.url)
    await wharfReadMs(server.url, runId)
    const ms: number[] = []
    for (let r = 0; r < READS; r++) ms.push(await wharfReadMs(server.url, runId))
    return { rates, ms }
  } finally {
    await server.stop()
  }
}

/** The stock MLflow client against Wharf's MLflow-compatible API: the same load as against MLflow's own server. */
async function measureMlflowClientOnWharf(dir: string, python: string): Promise<{ rates: number[]; ms: number[] }> {
  const server = await startServerProcess({ dataDir: path.join(dir, 'wharf-mlflow-api') })
  try {
    const common = ['--uri', server.url]
    const { rates } = await mlflowLoad<{ rates: number[] }>(python, [
      'ingest',
      ...common,
      ...['--points', String(POINTS), '--threads', String(WRITERS)],
      ...['--rounds', String(ROUNDS), '--warmup-points', String(WARMUP_POINTS)],
    ])
    const { ms } = await mlflowLoad<{ ms: number[] }>(python, [
      'read',
      ...common,
      ...['--points', String(READ_POINTS), '--reads', String(READS)],
    ])
    return { rates, ms }
  } finally {
    await server.stop()
  }
}

/** The MLflow side through its own Python client, or why it could not run here. */
async function measureMlflow(
  dir: string,
): Promise<{ rates: number[]; ms: number[]; version: string; python: string } | { skipped: string }> {
  const venv = await mlflowPython()
  if ('skipped' in venv) return venv
  const server = await startMlflowServer(VENV, dir)
  if ('skipped' in server) return server
  try {
    const common = ['--uri', server.url]
    const { rates } = await mlflowLoad<{ rates: number[] }>(venv.python, [
      'ingest',
      ...common,
      ...['--points', String(POINTS), '--threads', String(WRITERS)],
      ...['--rounds', String(ROUNDS), '--warmup-points', String(WARMUP_POINTS)],
    ])
    const { ms } = await mlflowLoad<{ ms: number[] }>(venv.python, [
      'read',
      ...common,
      ...['--points', String(READ_POINTS), '--reads', String(READS)],
    ])
    return { rates, ms, version: venv.version, python: venv.python }
  } finally {
    await server.stop()
  }
}

/** Wharf against a real MLflow 3 tracking server: log_batch throughput and a 100k-point history read. */
export const mlflowBench: Bench = {
  name: 'mlflow.compare',
  description: `Wharf vs MLflow 3 (SQLite, ${MLFLOW_WORKERS} workers), Wharf through its own API and through the stock MLflow client: ${POINTS} points in calls of 1,000 from ${WRITERS} threads, median of ${ROUNDS} rounds; a ${READ_POINTS}-point metric history read, median of ${READS}`,
  async run(): Promise<BenchResult[]> {
    const tmp = await tempDir('mlflow')
    try {
      const mlflow = await measureMlflow(tmp.dir)
      if ('skipped' in mlflow) {
        process.stderr.write(`skipped: ${mlflow.skipped}\n`)
        return []
      }
      const wharf = await measureWharf(tmp.dir)
      const viaClient = await measureMlflowClientOnWharf(tmp.dir, mlflow.python)
      const extra = { mlflowVersion: mlflow.version, mlflowWorkers: MLFLOW_WORKERS, writers: WRITERS }
      const ingest = compared({
        bench: 'mlflow.compare.log_batch',
        unit: 'points/s',
        value: median(wharf.rates),
        baseline: { name: 'mlflow.log_batch', value: median(mlflow.rates) },
        extra: { ...extra, points: POINTS, rounds: ROUNDS },
      })
      const read = compared({
        bench: `mlflow.compare.get_metric_history.${READ_LABEL}`,
        unit: 'ms',
        value: median(wharf.ms),
        baseline: { name: `mlflow.get_metric_history.${READ_LABEL}`, value: median(mlflow.ms) },
        extra: { ...extra, points: READ_POINTS, reads: READS },
      })
      // The same MLflow client code, pointed at Wharf instead of an MLflow server (issue 14's compatibility API).
      const clientIngest = compared({
        bench: 'mlflow.compare.client_on_wharf.log_batch',
        unit: 'points/s',
        value: median(viaClient.rates),
        baseline: { name: 'mlflow.log_batch (MLflow server)', value: median(mlflow.rates) },
        extra: { ...extra, points: POINTS, rounds: ROUNDS },
      })
      const clientRead = compared({
        bench: `mlflow.compare.client_on_wharf.get_metric_history.${READ_LABEL}`,
        unit: 'ms',
        value: median(viaClient.ms),
        baseline: { name: `mlflow.get_metric_history.${READ_LABEL} (MLflow server)`, value: median(mlflow.ms) },
        extra: { ...extra, points: READ_POINTS, reads: READS },
      })
      const faster = (baselineMs: number[], ms: number[]): number => Math.round((median(baselineMs) / median(ms)) * 100) / 100
      return [
        // value and ratio are Wharf's, as in every bench; the named fields say which way each ratio goes.
        { ...ingest, wharfOverMlflowPointsPerSecond: ingest.ratio },
        { ...read, mlflowMsOverWharfMs: faster(mlflow.ms, wharf.ms) },
        { ...clientIngest, wharfOverMlflowPointsPerSecond: clientIngest.ratio },
        { ...clientRead, mlflowMsOverWharfMs: faster(mlflow.ms, viaClient.ms) },
      ]
    } finally {
      await tmp.remove()
    }
  },
}
