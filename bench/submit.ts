import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT, compared, median, startServerProcess, tempDir, type Bench, type BenchResult } from './harness.js'

const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 5)
const PROJECT_FILES = 1000
const CLI = path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'bin.js')
const SDK = path.join(REPO_ROOT, 'packages', 'sdk', 'dist', 'index.js')

/** Submits the trivial script from code ROUNDS + 1 times (the first loads the runner) and prints the times after the first. */
const SDK_SUBMIT_SCRIPT = `
import path from 'node:path'
const { ScriptRunConfig, Workspace } = await import('SDK_ENTRY')
const [url, source, rounds] = process.argv.slice(2)
const workspace = Workspace.connect({ url, spoolDir: path.join(path.dirname(source), 'home', 'spool') })
const times = []
for (let r = 0; r <= Number(rounds); r++) {
  const started = performance.now()
  const run = await workspace.experiment('bench-submit').submit(new ScriptRunConfig({ sourceDirectory: source, script: 'train.py' }))
  await run.waitForCompletion()
  if (r > 0) times.push(performance.now() - started)
}
console.log(JSON.stringify(times))
`

/** Milliseconds one command takes, and its result (a failure stops the bench: a broken submit has no speed). */
function timed(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): number {
  const started = performance.now()
  const result: SpawnSyncReturns<string> = spawnSync(command, args, { ...options, encoding: 'utf8' })
  const ms = performance.now() - started
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  return ms
}

function filesUnder(dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length
}

/**
 * `wharf run submit` as a user types it (the built CLI, its runner process, snapshot, statuses, live
 * logs, outputs), against running the same trivial script with python3 directly; then an unchanged
 * resubmit of a 1,000-file project against the first submit of it and against `cp -r` of the folder.
 */
export const submitBench: Bench = {
  name: 'run.submit',
  description: `wharf run submit of a trivial script over running it directly, and an unchanged resubmit of a ${PROJECT_FILES}-file project; median of ${ROUNDS}`,
  async run() {
    if (!existsSync(CLI)) throw new Error(`the built CLI is missing (${CLI}); run "npm run build" first`)
    const tmp = await tempDir('submit')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    const env = { ...process.env, WHARF_TRACKING_URI: server.url, WHARF_HOME: path.join(tmp.dir, 'home'), NO_COLOR: '1' }
    try {
      const trivial = path.join(tmp.dir, 'trivial')
      await mkdir(trivial, { recursive: true })
      await writeFile(path.join(trivial, 'train.py'), 'print("trained")\n')
      const submit = (cwd: string) =>
        timed(process.execPath, [CLI, 'run', 'submit', '--experiment', 'bench-submit', '--script', 'train.py'], { cwd, env })
      timed('python3', ['train.py'], { cwd: trivial, env }) // warm the interpreter's caches
      submit(trivial)
      const direct: number[] = []
      const submitted: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        direct.push(timed('python3', ['train.py'], { cwd: trivial, env }))
        submitted.push(submit(trivial))
      }

      // The same run submitted from code, in a Node process that has the built SDK loaded already: the
      // cost of submit + waitForCompletion without a CLI process to start.
      const sdkScript = path.join(tmp.dir, 'sdk-submit.mjs')
      await writeFile(sdkScript, SDK_SUBMIT_SCRIPT.replace('SDK_ENTRY', pathToFileURL(SDK).href))
      const sdkRun = spawnSync(process.execPath, [sdkScript, server.url, trivial, String(ROUNDS)], { env, encoding: 'utf8' })
      if (sdkRun.status !== 0) throw new Error(`the SDK submit script failed: ${sdkRun.stderr}`)
      const fromCode = JSON.parse(sdkRun.stdout) as number[]

      const big = path.join(tmp.dir, 'project')
      for (let i = 0; i < PROJECT_FILES; i++) {
        const file = path.join(big, `pkg${i % 20}`, `module_${i}.py`)
        await mkdir(path.dirname(file), { recursive: true })
        await writeFile(file, `# module ${i}\nVALUE = ${i}\n` + 'x = 1\n'.repeat(100))
      }
      await writeFile(path.join(big, 'train.py'), 'print("trained")\n')
      const blobs = path.join(tmp.dir, 'server')
      const first = submit(big)
      const filesAfterFirst = filesUnder(blobs)
      const resubmits: number[] = []
      const copies: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        resubmits.push(submit(big))
        copies.push(timed('cp', ['-r', big, path.join(tmp.dir, `copy-${r}`)], { cwd: tmp.dir, env }))
      }
      const newFiles = filesUnder(blobs) - filesAfterFirst
      const results: BenchResult[] = [
        compared({
          bench: 'run.submit.trivial',
          unit: 'ms',
          value: median(submitted),
          baseline: { name: 'python3 train.py', value: median(direct) },
          extra: { overheadMs: Math.round(median(submitted) - median(direct)), targetOverheadMs: 300 },
        }),
        compared({
          bench: 'run.submit.trivial.sdk',
          unit: 'ms',
          value: median(fromCode),
          baseline: { name: 'python3 train.py', value: median(direct) },
          extra: { overheadMs: Math.round(median(fromCode) - median(direct)), targetOverheadMs: 300 },
        }),
        compared({
          bench: 'run.resubmit.1000-files',
          unit: 'ms',
          value: median(resubmits),
          baseline: { name: 'cp -r project', value: median(copies) },
          extra: {
            overheadOverTrivialMs: Math.round(median(resubmits) - median(submitted)),
            firstSubmitMs: Math.round(first),
            targetOverheadMs: 500,
            // Files the server wrote besides run records, logs and outputs: snapshot blobs would show here.
            newServerFilesPerResubmit: Math.round(newFiles / ROUNDS),
          },
        }),
      ]
      return results
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}
