import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { rawInsertRate } from './ingest.js'
import { REPO_ROOT, compared, median, startServerProcess, tempDir, type Bench } from './harness.js'

const POINTS = Number(process.env.WHARF_BENCH_PYTHON_POINTS ?? 400_000)
const THREADS = Number(process.env.WHARF_BENCH_PYTHON_THREADS ?? 8)
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
/** The virtualenv `npm test` makes (python/run-tests.mjs), or the one WHARF_PYTHON_VENV names. */
const VENV = process.env.WHARF_PYTHON_VENV ?? path.join(REPO_ROOT, '.venv-py')

/**
 * The Python SDK's ingest end to end: THREADS threads each logging into its own run through `run.log`
 * (python/bench/ingest.py), from the first log() to every point stored, against a fresh server each
 * round; beside it, raw SQLite inserts of the same rows in the same run (the floor every ingest path
 * pays), as `ingest.sdk.sqlite` reports the TypeScript SDK.
 */
export const pythonIngestBench: Bench = {
  name: 'ingest.python.sqlite',
  description: `${POINTS} points logged by the Python SDK from ${THREADS} threads until stored, median of ${ROUNDS} fresh servers`,
  async run() {
    const python = path.join(VENV, 'bin', 'python')
    if (!existsSync(python)) {
      process.stderr.write(`skipped: ingest.python.sqlite needs the virtualenv ${VENV} (npm run test:python makes it)\n`)
      return []
    }
    const tmp = await tempDir('python-ingest')
    try {
      const raw: number[] = []
      const rates: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        raw.push(rawInsertRate(tmp.dir, round))
        const server = await startServerProcess({ dataDir: path.join(tmp.dir, `server-${round}`) })
        try {
          // Synchronous on purpose: the server is another process, and nothing else runs meanwhile.
          const result = spawnSync(
            python,
            [
              path.join(REPO_ROOT, 'python', 'bench', 'ingest.py'),
              '--url',
              server.url,
              '--points',
              String(POINTS),
              '--threads',
              String(THREADS),
            ],
            { encoding: 'utf8', env: { ...process.env, WHARF_HOME: path.join(tmp.dir, `home-${round}`) } },
          )
          if (result.status !== 0) throw new Error(`python/bench/ingest.py failed: ${result.stderr}`)
          const answer = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { pointsPerSecond: number }
          rates.push(answer.pointsPerSecond)
        } finally {
          await server.stop()
        }
      }
      return [
        compared({
          bench: 'ingest.python.sqlite',
          unit: 'points/s',
          value: median(rates),
          baseline: { name: 'raw SQLite inserts (same rows, same run)', value: median(raw) },
          extra: { threads: THREADS, points: POINTS, rounds: rates.map(Math.round) },
        }),
      ]
    } finally {
      await tmp.remove()
    }
  },
}
