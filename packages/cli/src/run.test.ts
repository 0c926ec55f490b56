import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCliTestServer, type CliTestServer } from './test-support/cli-server.js'
import { runWharf, spawnWharf } from './test-support/run-cli.js'

let t: CliTestServer
let env: Record<string, string>
let project: string
let completedRunId: string

const TRAIN = `import { readFile, writeFile } from 'node:fs/promises'
const data = process.argv[process.argv.indexOf('--data') + 1]
console.log('input says: ' + (await readFile(data + '/greeting.txt', 'utf8')).trim())
console.log('seed ' + process.env.SEED)
await writeFile('outputs/result.txt', 'ok')
`
// Prints until stopped: a run that is still going when it is canceled.
const LONG = `console.log('working')
setInterval(() => console.log('still working'), 200)
`

beforeAll(async () => {
  t = await startCliTestServer('run')
  env = t.env
  project = path.join(t.dir, 'mnist-project')
  await mkdir(path.join(project, 'lib'), { recursive: true })
  await mkdir(path.join(project, 'checkpoints'), { recursive: true })
  await writeFile(path.join(project, 'train.mjs'), TRAIN)
  await writeFile(path.join(project, 'long.mjs'), LONG)
  await writeFile(path.join(project, 'fail.mjs'), "console.error('diverged'); process.exit(2)\n")
  await writeFile(path.join(project, 'lib', 'util.mjs'), 'export const x = 1\n')
  await writeFile(path.join(project, '.amlignore'), 'checkpoints/\n*.log\n')
  await writeFile(path.join(project, 'checkpoints', 'big.bin'), 'not part of the snapshot')
  await writeFile(path.join(project, 'debug.log'), 'not part of the snapshot')
  await t.client.uploadDatastoreFile('workspaceblobstore', { path: 'inputs/greeting.txt', body: 'hello from the datastore\n' })
})
afterAll(async () => {
  await t?.stop()
})

const wharf = (args: string[]) => runWharf(args, { env, cwd: project })

describe('wharf run submit', () => {
  it('runs a script from the current folder to the end, its output on stdout, a summary line, exit 0', async () => {
    const result = await wharf([
      'run',
      'submit',
      '--script',
      'train.mjs',
      '--input',
      'DATA=workspaceblobstore:inputs:download',
      '--env',
      'SEED=7',
      '--',
      '--data',
      '$WHARF_DATAREFERENCE_DATA',
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('input says: hello from the datastore')
    expect(result.stdout).toContain('seed 7')
    const summary = /run (\S+) Completed in \d+:\d\d:\d\d/.exec(result.stderr)
    expect(summary, result.stderr).not.toBeNull()
    completedRunId = summary?.[1] as string
    const run = await t.client.getRun(completedRunId)
    // The experiment is the source folder's name.
    expect(run).toMatchObject({ experiment: 'mnist-project', status: 'Completed', scriptName: 'train.mjs' })
    const artifacts = await t.client.listArtifacts(completedRunId).toArray()
    expect(artifacts.map((a) => a.path)).toContain('outputs/result.txt')
  })

  it('exits 7 (RUN_FAILED) with the run error for a failing script', async () => {
    const result = await wharf(['run', 'submit', '--script', 'fail.mjs', '--experiment', 'cli-fail'])
    expect(result.code).toBe(7)
    expect(result.stdout).toContain('diverged')
    expect(result.stderr).toMatch(/run \S+ Failed in/)
    expect(result.stderr).toMatch(/wharf: error: run \S+ failed: .*\[RUN_FAILED\]/)
  })

  it('--detach prints the run id; a cancel from another process ends it, and wait exits 8 (RUN_CANCELED)', async () => {
    const submitted = await wharf(['run', 'submit', '--script', 'long.mjs', '--experiment', 'cli-long', '--detach'])
    expect(submitted.code, submitted.stderr).toBe(0)
    const runId = submitted.stdout.trim()
    expect(submitted.stderr).toContain(`wharf run logs -f ${runId}`)
    // Wait until the script is running (its output has arrived), then cancel.
    const follow = spawnWharf(['run', 'logs', '-f', runId], { env, cwd: project })
    const followClosed = new Promise<number | null>((resolve) => follow.once('close', resolve))
    let followed = ''
    await new Promise<void>((resolve) =>
      follow.stdout?.on('data', (c: Buffer) => {
        followed += c.toString()
        if (followed.includes('still working')) resolve()
      }),
    )
    const cancel = await wharf(['run', 'cancel', runId, '-o', 'json'])
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(JSON.parse(cancel.stdout)).toMatchObject({ runId, cancelRequested: true })
    const waited = await wharf(['run', 'wait', runId])
    expect(waited.code, waited.stderr).toBe(8)
    expect(waited.stderr).toMatch(new RegExp(`run ${runId} Canceled`))
    expect(waited.stderr).toContain('[RUN_CANCELED]')
    // The follower stops by itself once the run has ended.
    expect(await followClosed).toBe(0)
    const again = await wharf(['run', 'cancel', runId, '-o', 'json'])
    expect(JSON.parse(again.stdout)).toMatchObject({ cancelRequested: false, status: 'Canceled' })
  })

  it('Ctrl-C once cancels the run and keeps following it to its end (exit 8)', async () => {
    const child = spawnWharf(['run', 'submit', '--script', 'long.mjs', '--experiment', 'cli-long'], { env, cwd: project })
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve))
    let stdout = ''
    let stderr = ''
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
    await new Promise<void>((resolve) =>
      child.stdout?.on('data', (c: Buffer) => {
        stdout += c.toString()
        if (stdout.includes('still working')) resolve()
      }),
    )
    child.kill('SIGINT')
    const code = await closed
    expect(stderr).toMatch(/cancelling run \S+; press Ctrl-C again to stop following/)
    expect(stderr).toMatch(/run \S+ Canceled in/)
    expect(code).toBe(8)
  })
})

describe('wharf run logs, show, list', () => {
  it('prints the log of a run that ended', async () => {
    const result = await wharf(['run', 'logs', completedRunId])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('input says: hello from the datastore')
  })

  it('shows status times, the definition and data references, and downloads the snapshot without ignored files', async () => {
    const result = await wharf(['run', 'show', completedRunId, '-o', 'json'])
    expect(result.code, result.stderr).toBe(0)
    const shown = JSON.parse(result.stdout) as {
      status: string
      statusTimes: Record<string, string>
      definition: { command: string[]; dataReferences: { name: string; mode: string }[] }
    }
    expect(shown.status).toBe('Completed')
    expect(Object.keys(shown.statusTimes)).toEqual(expect.arrayContaining(['Queued', 'Running', 'Completed']))
    expect(shown.definition.command).toEqual(['train.mjs', '--data', '$WHARF_DATAREFERENCE_DATA'])
    expect(shown.definition.dataReferences).toMatchObject([{ name: 'DATA', mode: 'download' }])

    const target = path.join(t.dir, 'snapshot-copy')
    const snap = await wharf(['run', 'show', completedRunId, '--snapshot', target, '-o', 'table'])
    expect(snap.code, snap.stderr).toBe(0)
    expect(snap.stdout).toMatch(/Data references/)
    const files = (await readdir(target, { recursive: true })).map((f) => f.split(path.sep).join('/')).sort()
    expect(files).toEqual(['.amlignore', 'fail.mjs', 'lib', 'lib/util.mjs', 'long.mjs', 'train.mjs'])
    expect(await readFile(path.join(target, 'train.mjs'), 'utf8')).toBe(TRAIN)
    // Into a folder with files only with --overwrite.
    const refused = await wharf(['run', 'show', completedRunId, '--snapshot', target])
    expect(refused.code).toBe(5)
    expect(refused.stderr).toMatch(/--overwrite.*\[FILE_EXISTS\]/)
  })

  it('lists submitted runs with the history listing', async () => {
    const result = await wharf(['run', 'list', '--experiment', 'mnist-project', '-o', 'json'])
    expect(result.code, result.stderr).toBe(0)
    expect((JSON.parse(result.stdout) as { runId: string }[]).map((r) => r.runId)).toEqual([completedRunId])
  })
})
