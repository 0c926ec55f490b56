import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WharfClient } from '@wharf/client'
import type { Run } from '@wharf/contract'
import type { RunningServer } from '@wharf/server'
import { startCliTestServer, type CliTestServer } from './test-support/cli-server.js'
import { runWharf, runWharfBytes, runWharfOnTerminal } from './test-support/run-cli.js'

let t: CliTestServer
let server: RunningServer
let dir: string
let env: Record<string, string>
let client: WharfClient
let first: Run
let second: Run
let failed: Run
const WEIGHTS = new Uint8Array([0, 1, 2, 3, 255, 0, 7, 128, 200])
const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex')

async function seedRun(options: { lr: string; losses: number[]; accuracy: number[]; fail?: boolean }): Promise<Run> {
  const run = await client.createRun({
    experiment: 'cli-mnist',
    status: 'Running',
    scriptName: 'train.py',
    tags: { lr: options.lr, team: 'vision' },
  })
  await client.logMetrics(run.id, {
    series: [
      { name: 'loss', values: options.losses },
      { name: 'accuracy', values: options.accuracy },
    ],
  })
  await client.uploadArtifact(run.id, { path: 'outputs/model/weights.bin', body: WEIGHTS })
  await client.uploadArtifact(run.id, {
    path: 'outputs/model/config.json',
    body: `{"lr": ${options.lr}}\n`,
    contentType: 'application/json',
  })
  await client.uploadArtifact(run.id, { path: 'outputs/log.txt', body: 'epoch 1\nepoch 2\n', contentType: 'text/plain' })
  return options.fail
    ? client.setRunStatus(run.id, 'Failed', { error: { message: 'CUDA out of memory', code: 'UserError' } })
    : client.setRunStatus(run.id, 'Completed')
}

beforeAll(async () => {
  t = await startCliTestServer('history')
  ;({ server, dir, env, client } = t)
  first = await seedRun({ lr: '0.1', losses: Array.from({ length: 20 }, (_, i) => 1 / (i + 1)), accuracy: [0.5, 0.7, 0.8] })
  second = await seedRun({ lr: '0.2', losses: Array.from({ length: 20 }, (_, i) => 2 / (i + 1)), accuracy: [0.6, 0.9] })
  failed = await seedRun({ lr: '0.3', losses: [3, 2], accuracy: [0.1], fail: true })
})
afterAll(async () => {
  await t?.stop()
})

const wharf = (args: string[], extra: Record<string, string> = {}) => runWharf(args, { env: { ...env, ...extra } })
const json = <T = unknown>(stdout: string): T => JSON.parse(stdout) as T

interface RunOut {
  runId: string
  status: string
  duration: string
  error: unknown
  metrics: Record<string, number | string | null>
  metricDetails: { name: string; count: number; values?: unknown[]; trend?: string }[]
  artifacts: { path: string; sha256: string }[]
}
interface DownloadOut {
  files: { path: string; result: string }[]
}

describe('wharf history list', () => {
  it("prints JSON when piped: newest first, with each metric's last value and the run's fields in camelCase", async () => {
    const result = await wharf(['history', 'list'])
    expect(result.code, result.stderr).toBe(0)
    const runs = json<RunOut[]>(result.stdout)
    expect(runs.map((r) => r.runId)).toEqual([failed.id, second.id, first.id])
    expect(runs[2]).toMatchObject({
      experiment: 'cli-mnist',
      status: 'Completed',
      scriptName: 'train.py',
      target: 'local',
      tags: { lr: '0.1' },
    })
    expect(runs[2]!.metrics).toEqual({ loss: 1 / 20, accuracy: 0.8 })
    expect(runs[2]!.duration).toMatch(/^\d+:\d\d:\d\d\.\d{3}$/)
    expect(runs[0]!.error).toEqual({ message: 'CUDA out of memory', code: 'UserError' })
  })

  it('prints a table: metric columns, then duration, run id, script, start time, status', async () => {
    const result = await wharf(['history', 'list', '-o', 'table'])
    expect(result.code, result.stderr).toBe(0)
    const [header, rule, ...rows] = result.stdout.trimEnd().split('\n')
    expect(header!.split(/\s{2,}/)).toEqual([
      'accuracy',
      'loss',
      'Duration',
      'Run id',
      'Name',
      'Script',
      'Start time (UTC)',
      'Status',
    ])
    expect(rule).toMatch(/^[- ]+$/)
    expect(rows).toHaveLength(3)
    expect(rows[0]).toContain(failed.id)
    expect(rows[0]).toMatch(/Failed$/)
    expect(rows[2]).toMatch(/^0\.8\s+0\.05\s/)
    expect(result.stdout).not.toContain('\u001b[') // no colours off a terminal
  })

  it('at 80 columns keeps the most important columns whole and names the ones it left out', async () => {
    const result = await wharf(['history', 'list', '-o', 'table'], { COLUMNS: '80' })
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80)
    const headers = lines[0]!.split(/\s{2,}/)
    expect(headers.slice(0, 3)).toEqual(['accuracy', 'loss', 'Run id'])
    expect(headers.at(-1)).toBe('Status')
    expect(headers).not.toContain('Script')
    for (const run of [first, second, failed]) expect(result.stdout).toContain(run.id)
    expect(lines[4]).toMatch(new RegExp(`^0\\.8\\s+0\\.05\\s+${first.id}\\s.*Completed$`))
    expect(lines.at(-1)).toMatch(/^\(hidden at this width: .*Script.*; -o json has all\)$/)
  })

  it('prints TSV with a header row and a column per metric and tag', async () => {
    const result = await wharf(['history', 'list', '-o', 'tsv'])
    expect(result.code, result.stderr).toBe(0)
    const [header, ...rows] = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'))
    expect(rows).toHaveLength(3)
    const column = (name: string): number => header!.indexOf(name)
    expect(header!.slice(0, 4)).toEqual(['runId', 'experiment', 'displayName', 'status'])
    for (const name of ['metrics.accuracy', 'metrics.loss', 'tags.lr', 'tags.team', 'error.message'])
      expect(column(name), name).toBeGreaterThan(0)
    expect(header).not.toContain('metrics')
    expect(rows[2]![column('runId')]).toBe(first.id)
    expect(rows[2]![column('metrics.loss')]).toBe('0.05')
    expect(rows[2]![column('metrics.accuracy')]).toBe('0.8')
    expect(rows[2]![column('tags.lr')]).toBe('0.1')
    expect(rows[2]![column('error.message')]).toBe('')
    expect(rows[0]![column('error.message')]).toBe('CUDA out of memory')
    for (const row of rows) expect(row).toHaveLength(header!.length)
  })

  it('filters by status, tag, experiment and --top', async () => {
    const ids = async (args: string[]): Promise<string[]> => {
      const result = await wharf(['history', 'list', ...args, '--query', '[].runId'])
      expect(result.code, result.stderr).toBe(0)
      return json<string[]>(result.stdout)
    }
    expect(await ids(['--status', 'Failed'])).toEqual([failed.id])
    expect(await ids(['--status', 'Completed,Failed'])).toHaveLength(3)
    expect(await ids(['--tag', 'lr=0.2'])).toEqual([second.id])
    expect(await ids(['--tag', 'team=vision', '--tag', 'lr=0.1'])).toEqual([first.id])
    expect(await ids(['--experiment', 'cli-mnist', '--top', '2'])).toEqual([failed.id, second.id])
    expect(await ids(['--experiment', 'other'])).toEqual([])
  })

  it('refuses an unknown status or output format with exit code 2 and the valid choices', async () => {
    const status = await wharf(['history', 'list', '--status', 'Done'])
    expect(status.code).toBe(2)
    expect(status.stderr).toMatch(
      /^wharf: error: --status "Done" is not a run status; use one of .*Completed.* \[INVALID_ARGUMENT\]\n$/,
    )
    const format = await wharf(['history', 'list', '-o', 'yaml'])
    expect(format.code).toBe(2)
    expect(format.stderr).toContain('-o table, -o json or -o tsv')
  })
})

describe('--query (JMESPath)', () => {
  it('filters and projects the JSON form before formatting, as the Azure CLI does', async () => {
    const completed = await wharf(['history', 'list', '--query', "[?status=='Completed'].runId"])
    expect(json(completed.stdout)).toEqual([second.id, first.id])
    const best = await wharf([
      'history',
      'list',
      '--query',
      'max_by([?metrics.accuracy != null], &metrics.accuracy).runId',
      '-o',
      'tsv',
    ])
    expect(best.stdout).toBe(`${second.id}\n`)
    const table = await wharf(['history', 'list', '--query', '[].{id: runId, status: status}', '-o', 'table'])
    expect(table.stdout.split('\n')[0]!.split(/\s+/)).toEqual(['id', 'status'])
    expect(table.stdout).toContain(first.id)
    const metrics = await wharf(['history', 'info', '-r', first.id, '--query', "metricDetails[?name=='accuracy'].values | [0]"])
    expect(json(metrics.stdout)).toEqual([0.5, 0.7, 0.8])
  })

  it('says what is wrong with a bad expression, exit code 2', async () => {
    const result = await wharf(['history', 'list', '--query', '[?'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^wharf: error: --query "\[\?" is not a JMESPath expression.*\[INVALID_ARGUMENT\]\n$/)
  })
})

describe('wharf history last / info', () => {
  it('last shows the most recent run in full: metrics, artifacts and the error', async () => {
    const result = await wharf(['history', 'last'])
    expect(result.code, result.stderr).toBe(0)
    const run = json<RunOut>(result.stdout)
    expect(run).toMatchObject({
      runId: failed.id,
      status: 'Failed',
      error: { message: 'CUDA out of memory' },
      metrics: { loss: 2, accuracy: 0.1 },
    })
    expect(run.artifacts.map((a) => a.path)).toEqual([
      'outputs/log.txt',
      'outputs/model/config.json',
      'outputs/model/weights.bin',
    ])
    const mnist = await wharf(['history', 'last', '--experiment', 'nothing-here'])
    expect(mnist.code).toBe(3)
    expect(mnist.stderr).toContain('wharf experiment list')
  })

  it('info gives short series as values and long ones as sparklines', async () => {
    const result = await wharf(['history', 'info', '-r', first.id, '-o', 'json'])
    expect(result.code, result.stderr).toBe(0)
    const run = json<RunOut>(result.stdout)
    const byName = Object.fromEntries(run.metricDetails.map((m) => [m.name, m]))
    expect(byName.accuracy).toMatchObject({ count: 3, last: 0.8, min: 0.5, max: 0.8, values: [0.5, 0.7, 0.8] })
    expect(byName.loss).toMatchObject({ count: 20, last: 0.05, max: 1 })
    expect(byName.loss!.trend).toMatch(/^█[▁▂▃▄▅▆▇█ ]+▁$/)
    const sha = run.artifacts.find((a) => a.path === 'outputs/model/weights.bin')!.sha256
    expect(sha).toBe(sha256(WEIGHTS))
  })

  it('info as a table has the run, its metrics with sparklines, its artifacts, and the error of a failed run', async () => {
    const ok = await wharf(['history', 'info', '-r', first.id, '-o', 'table'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^Run\s+/)
    expect(ok.stdout).toMatch(/Status\s+Completed/)
    expect(ok.stdout).toMatch(/accuracy\s+0\.8\s+0\.5\s+0\.8\s+3\s+▁▆█\s+0\.5, 0\.7, 0\.8/)
    expect(ok.stdout).toMatch(/loss\s+0\.05\s+0\.05\s+1\s+20\s+█/)
    expect(ok.stdout).toMatch(/Tags\nlr\s+0\.1/)
    expect(ok.stdout).toMatch(/outputs\/model\/weights\.bin\s+9 B\s+application\/octet-stream/)
    const bad = await wharf(['history', 'info', '-r', failed.id, '-o', 'table'])
    expect(bad.stdout).toMatch(/Error\s+UserError: CUDA out of memory/)
    const tsv = await wharf(['history', 'info', '-r', first.id, '-o', 'tsv'])
    const [names, values] = tsv.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'))
    expect(values![names!.indexOf('runId')]).toBe(first.id)
    expect(values![names!.indexOf('metrics.accuracy')]).toBe('0.8')
  })

  it('an unknown run is exit code 3 with one line on stderr saying how to find runs; --verbose adds details', async () => {
    const result = await wharf(['history', 'info', '-r', 'no-such-run'])
    expect(result.code).toBe(3)
    expect(result.stderr).toBe(
      'wharf: error: run "no-such-run" not found in workspace "default"; wharf history list shows the runs [RUN_NOT_FOUND]\n',
    )
    const verbose = await wharf(['history', 'info', '-r', 'no-such-run', '--verbose'])
    expect(verbose.code).toBe(3)
    expect(verbose.stderr).toContain('details: {')
  })

  it('says when the server cannot be reached, exit code 6', async () => {
    const result = await wharf(['history', 'list', '--url', 'http://127.0.0.1:9'])
    expect(result.code).toBe(6)
    expect(result.stderr).toContain('cannot reach the Wharf server')
  })
})

describe('wharf history info -a (one artifact)', () => {
  it('writes a text artifact to stdout', async () => {
    const result = await wharf(['history', 'info', '-r', first.id, '-a', 'outputs/log.txt'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe('epoch 1\nepoch 2\n')
  })

  it('writes binary to a pipe byte for byte (only a terminal refuses it)', async () => {
    const result = await runWharfBytes(['history', 'info', '-r', first.id, '-a', 'outputs/model/weights.bin'], { env })
    expect(result.code, result.stderr).toBe(0)
    expect(new Uint8Array(result.stdout)).toEqual(WEIGHTS)
  })

  it('refuses to write binary to a terminal and says how to save it', async (context) => {
    const result = await runWharfOnTerminal(['history', 'info', '-r', first.id, '-a', 'outputs/model/weights.bin'], { env })
    if (result === undefined) {
      console.log('skipped: a terminal test: util-linux "script" is not installed, so no terminal can be emulated')
      return context.skip()
    }
    expect(result.code).toBe(2)
    expect(result.output).toContain('is binary')
    expect(result.output).toContain(`wharf history info -r ${first.id} -a outputs/model/weights.bin -f weights.bin`)
    const text = await runWharfOnTerminal(['history', 'info', '-r', first.id, '-a', 'outputs/log.txt'], { env })
    expect(text!.code).toBe(0)
    expect(text!.output).toContain('epoch 2')
  })

  it('saves to a file with -f or with -o FILE, verified; -o with a format name is refused', async () => {
    const viaF = path.join(dir, 'w1.bin')
    expect((await wharf(['history', 'info', '-r', first.id, '-a', 'outputs/model/weights.bin', '-f', viaF])).code).toBe(0)
    expect(new Uint8Array(await readFile(viaF))).toEqual(WEIGHTS)
    const viaO = path.join(dir, 'w2.bin')
    const saved = await wharf(['history', 'info', '-r', first.id, '--artifact', 'outputs/model/weights.bin', '-o', viaO])
    expect(saved.code, saved.stderr).toBe(0)
    expect(new Uint8Array(await readFile(viaO))).toEqual(WEIGHTS)
    const ambiguous = await wharf(['history', 'info', '-r', first.id, '-a', 'outputs/log.txt', '-o', 'json'])
    expect(ambiguous.code).toBe(2)
    expect(ambiguous.stderr).toContain('-f json')
  })

  it('an unknown artifact is exit code 3 naming the command that lists them', async () => {
    const result = await wharf(['history', 'info', '-r', first.id, '-a', 'outputs/nope.txt'])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(
      `has no artifact "outputs/nope.txt"; wharf history info -r ${first.id} lists its artifacts [ARTIFACT_NOT_FOUND]`,
    )
  })
})

describe('wharf history download', () => {
  it('downloads every artifact with its path, verified; identical files are left alone on a second run', async () => {
    const target = path.join(dir, 'download-all')
    const result = await wharf(['history', 'download', '-r', first.id, '-d', target])
    expect(result.code, result.stderr).toBe(0)
    const out = json<DownloadOut>(result.stdout)
    expect(out.files.map((f) => `${f.path}:${f.result}`)).toEqual([
      'outputs/log.txt:downloaded',
      'outputs/model/config.json:downloaded',
      'outputs/model/weights.bin:downloaded',
    ])
    expect(sha256(await readFile(path.join(target, 'outputs/model/weights.bin')))).toBe(sha256(WEIGHTS))
    expect(await readFile(path.join(target, 'outputs/log.txt'), 'utf8')).toBe('epoch 1\nepoch 2\n')
    const again = await wharf(['history', 'download', '-r', first.id, '-d', target, '-o', 'table'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('3 already there')
  })

  it('shows a progress bar and a table on a terminal', async (context) => {
    const target = path.join(dir, 'download-tty')
    const result = await runWharfOnTerminal(['history', 'download', '-r', second.id, '-d', target], { env })
    if (result === undefined) {
      console.log('skipped: a terminal test: util-linux "script" is not installed, so no terminal can be emulated')
      return context.skip()
    }
    expect(result.code, result.output).toBe(0)
    expect(result.output).toMatch(/100% \| 3\/3 files \| /)
    expect(result.output).toMatch(/downloaded 3 files \(.*, sha256 verified\) to /)
  })

  it('refuses to replace a different file without --overwrite, and replaces it with', async () => {
    const target = path.join(dir, 'download-overwrite')
    expect((await wharf(['history', 'download', '-r', first.id, '-d', target])).code).toBe(0)
    const log = path.join(target, 'outputs/log.txt')
    await writeFile(log, 'edited\n')
    const refused = await wharf(['history', 'download', '-r', first.id, '-d', target])
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain('pass --overwrite')
    expect(await readFile(log, 'utf8')).toBe('edited\n')
    const forced = await wharf(['history', 'download', '-r', first.id, '-d', target, '--overwrite'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(await readFile(log, 'utf8')).toBe('epoch 1\nepoch 2\n')
  })

  it('--artifact takes one artifact or a folder prefix; a prefix matching nothing is exit code 3', async () => {
    const target = path.join(dir, 'download-prefix')
    const result = await wharf([
      'history',
      'download',
      '-r',
      second.id,
      '-d',
      target,
      '--artifact',
      'outputs/model/',
      '--query',
      'files[].path',
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(json(result.stdout)).toEqual(['outputs/model/config.json', 'outputs/model/weights.bin'])
    const bad = await wharf(['history', 'download', '-r', second.id, '-d', target, '--artifact', 'outputs/mod'])
    expect(bad.code).toBe(3)
    expect(bad.stderr).toContain('none under "outputs/mod/"')
    const unknown = await wharf(['history', 'download', '-r', 'no-such-run', '-d', target])
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toContain('RUN_NOT_FOUND')
  })
})

describe('wharf history compare', () => {
  it('puts runs side by side', async () => {
    const result = await wharf(['history', 'compare', first.id, second.id])
    expect(result.code, result.stderr).toBe(0)
    expect(json<RunOut[]>(result.stdout).map((r) => [r.runId, r.metrics.accuracy])).toEqual([
      [first.id, 0.8],
      [second.id, 0.9],
    ])
    const table = await wharf(['history', 'compare', first.id, second.id, failed.id, '-o', 'table'])
    expect(table.stdout.split('\n')[0]).toMatch(new RegExp(`^\\s+${first.id}\\s+${second.id}\\s+${failed.id}$`))
    expect(table.stdout).toMatch(/accuracy\s+0\.8\s+0\.9\s+0\.1/)
    expect(table.stdout).toMatch(/tag lr\s+0\.1\s+0\.2\s+0\.3/)
    expect(table.stdout).toMatch(/Status\s+Completed\s+Completed\s+Failed/)
  })

  it('needs two runs, and every run must exist', async () => {
    expect((await wharf(['history', 'compare', first.id])).code).toBe(2)
    expect((await wharf(['history', 'compare', first.id, 'no-such-run'])).code).toBe(3)
  })
})

describe('wharf history promote', () => {
  it('creates version 1, then version 2 of the same name, recording run, prefix and files', async () => {
    const v1 = await wharf(['history', 'promote', '-r', first.id, '-ap', 'outputs/model', '-n', 'history-model'])
    expect(v1.code, v1.stderr).toBe(0)
    const one = json<{ files: { sha256: string }[] }>(v1.stdout)
    expect(one).toMatchObject({
      name: 'history-model',
      version: 1,
      sourceRunId: first.id,
      artifactPath: 'outputs/model',
      fileCount: 2,
    })
    expect(one.files.map((f) => f.sha256)).toContain(sha256(WEIGHTS))
    const v2 = await wharf([
      'history',
      'promote',
      '--run',
      second.id,
      '--artifact-path',
      'outputs/model',
      '--name',
      'history-model',
      '--description',
      'better accuracy',
      '--tag',
      'stage=candidate',
      '-o',
      'table',
    ])
    expect(v2.code, v2.stderr).toBe(0)
    expect(v2.stdout).toMatch(/Asset\s+history-model:2/)
    expect(v2.stdout).toMatch(/Tags\s+stage=candidate/)
    expect(v2.stdout).toContain('better accuracy')
  })

  it('refuses to promote nothing, an unknown run, or without a name', async () => {
    const nothing = await wharf(['history', 'promote', '-r', first.id, '-ap', 'outputs/none', '-n', 'empty'])
    expect(nothing.code).toBe(3)
    expect(nothing.stderr).toMatch(/^wharf: error: nothing to promote: .*outputs\/none.*\[ARTIFACT_NOT_FOUND\]\n$/)
    const unknown = await wharf(['history', 'promote', '-r', 'no-such-run', '-ap', 'outputs', '-n', 'x'])
    expect(unknown.code).toBe(3)
    const missing = await wharf(['history', 'promote', '-r', first.id, '-ap', 'outputs'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("required option '-n, --name <name>' not specified")
  })
})

describe('wharf experiment list / workspace show', () => {
  it('lists experiments in each format', async () => {
    const list = await wharf(['experiment', 'list'])
    expect(json<{ name: string }[]>(list.stdout).map((e) => e.name)).toContain('cli-mnist')
    const table = await wharf(['experiment', 'list', '-o', 'table'])
    expect(table.stdout).toMatch(/^Name\s+Id\s+Created \(UTC\)\n/)
    const tsv = await wharf(['experiment', 'list', '-o', 'tsv', '--query', '[].name'])
    expect(tsv.stdout.split('\n')).toContain('cli-mnist')
  })

  it('shows the workspace with its server and datastores', async () => {
    const result = await wharf(['workspace', 'show'])
    expect(result.code, result.stderr).toBe(0)
    expect(json(result.stdout)).toMatchObject({
      name: 'default',
      url: server.url,
      defaultDatastore: 'workspaceblobstore',
      store: 'sqlite',
    })
    const table = await wharf(['workspace', 'show', '-o', 'table'])
    expect(table.stdout).toMatch(/Workspace\s+default/)
    expect(table.stdout).toMatch(/workspacefilestore\s+filesystem/)
    const missing = await wharf(['workspace', 'show', '--workspace', 'nope'])
    expect(missing.code).toBe(3)
  })
})

describe('help and version', () => {
  const commands = [
    ['history'],
    ['history', 'list'],
    ['history', 'last'],
    ['history', 'info'],
    ['history', 'download'],
    ['history', 'compare'],
    ['history', 'promote'],
    ['asset'],
    ['asset', 'list'],
    ['asset', 'show'],
    ['asset', 'download'],
    ['experiment'],
    ['experiment', 'list'],
    ['workspace', 'show'],
  ]
  it('every command has --help with an example', async () => {
    const results = await Promise.all(commands.map((command) => wharf([...command, '--help'])))
    results.forEach((result, i) => {
      expect(result.code, commands[i]!.join(' ')).toBe(0)
      expect(result.stdout, commands[i]!.join(' ')).toMatch(/Examples?:\n {2}wharf /)
    })
    expect(results[1]!.stdout.replace(/\s+/g, ' ')).toContain('table on a terminal, json when piped')
  }, 120_000)

  it('wharf --version prints the version', async () => {
    const result = await wharf(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
  })
})

describe('a run named as an argument or with -r', () => {
  it('info, download and promote take the run id as an argument too', async () => {
    const info = await wharf(['history', 'info', first.id, '-o', 'json'])
    expect(info.code, info.stderr).toBe(0)
    expect(json<RunOut>(info.stdout).runId).toBe(first.id)
    const both = await wharf(['history', 'info', first.id, '-r', first.id, '--query', 'runId'])
    expect(json(both.stdout)).toBe(first.id)
    const target = path.join(dir, 'download-positional')
    const down = await wharf(['history', 'download', second.id, '-d', target, '--query', 'runId'])
    expect(down.code, down.stderr).toBe(0)
    expect(json(down.stdout)).toBe(second.id)
    const promoted = await wharf([
      'history',
      'promote',
      second.id,
      '-ap',
      'outputs/model',
      '-n',
      'positional-model',
      '--query',
      'name',
    ])
    expect(promoted.code, promoted.stderr).toBe(0)
    expect(json(promoted.stdout)).toBe('positional-model')
  })

  it('refuses no run, or two different ones, with exit code 2 and the command to write', async () => {
    const none = await wharf(['history', 'info'])
    expect(none.code).toBe(2)
    expect(none.stderr).toBe(
      'wharf: error: which run? write wharf history info <runid> (or -r <runid>); wharf history list shows the run ids [INVALID_ARGUMENT]\n',
    )
    const two = await wharf(['history', 'info', first.id, '-r', second.id])
    expect(two.code).toBe(2)
    expect(two.stderr).toContain(`two runs given, "${first.id}" and -r "${second.id}"`)
  })

  it('help examples show run ids in the form runs have', async () => {
    let examples = 0
    for (const command of ['info', 'download', 'compare', 'promote']) {
      const help = await wharf(['history', command, '--help'])
      expect(help.code).toBe(0)
      const ids = [...help.stdout.matchAll(/^ {2}wharf history \w+ (.*)$/gm)]
        .flatMap((m) => m[1]!.split(/\s+/))
        .filter(
          (word, i, words) =>
            !word.startsWith('-') && (i === 0 || words[i - 1] === '-r' || command === 'compare') && !word.includes('/'),
        )
      for (const id of ids) expect(id, `wharf history ${command} --help`).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/)
      examples += ids.length
    }
    expect(examples).toBeGreaterThanOrEqual(6)
    expect(first.id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/)
  })
})

describe('readable run names', () => {
  it('list, last and info show the name the server gave each run', async () => {
    for (const run of [first, second, failed]) expect(run.displayName).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/)
    const list = await wharf(['history', 'list', '-o', 'table'])
    const rows = list.stdout.trimEnd().split('\n').slice(2)
    for (const run of [failed, second, first])
      expect(rows.find((row) => row.includes(run.id))).toContain(`${run.id}  ${run.displayName}  `)
    const info = await wharf(['history', 'info', first.id, '-o', 'table'])
    expect(info.stdout).toMatch(new RegExp(`^Name\\s+${first.displayName}$`, 'm'))
    const last = await wharf(['history', 'last', '--query', 'displayName'])
    expect(json(last.stdout)).toBe(failed.displayName)
  })
})

describe('tables on a terminal', () => {
  it('fit an 80-column terminal, naming what they leave out', async (context) => {
    const result = await runWharfOnTerminal(['history', 'list'], { env: { ...env, COLUMNS: '80' } })
    if (result === undefined) {
      console.log('skipped: a terminal test: util-linux "script" is not installed, so no terminal can be emulated')
      return context.skip()
    }
    expect(result.code, result.output).toBe(0)
    const lines = result.output.replace(/\r/g, '').trimEnd().split('\n')
    for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(80)
    expect(lines[0]).toMatch(/Run id.*Status$/)
    expect(result.output).toContain(first.id)
    expect(lines.at(-1)).toMatch(/^\(hidden at this width: .*\)$/)
  })
})
