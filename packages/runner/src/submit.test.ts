import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataReferenceConfig, RunDefinition } from '@wharf/contract'
import { Datastore, Workspace, type SubmitRequest } from '@wharf/sdk'
import { startTestServer, type TestServer } from '@wharf/server/test-support'
import { createSnapshot } from './snapshot/upload.js'
import { submitRun } from './submit.js'
import { readLog, waitForEnd, waitForLog } from './test-support/runs.js'

const AUTH = 'submitter-secret-token-0123456789'

let dir: string
let server: TestServer
let workspace: Workspace
let home: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-submit-'))
  home = path.join(dir, 'home')
  server = await startTestServer('sqlite', { authToken: AUTH, config: { filesystemRoots: [dir] } })
  workspace = Workspace.connect({ url: server.url, token: AUTH, spoolDir: path.join(home, 'spool') })
  // An input on the blob store (downloaded), a shared folder (mounted: this machine sees it).
  const inputs = path.join(dir, 'inputs')
  await mkdir(path.join(inputs, 'raw', 'sub'), { recursive: true })
  await writeFile(path.join(inputs, 'raw', 'a.txt'), 'hello from the datastore')
  await writeFile(path.join(inputs, 'raw', 'sub', 'b.txt'), 'b')
  const blob = await Datastore.get(workspace, 'workspaceblobstore')
  expect((await blob.upload({ srcDir: inputs, showProgress: false })).failed).toEqual([])
  await mkdir(path.join(dir, 'shared', 'sets'), { recursive: true })
  await writeFile(path.join(dir, 'shared', 'sets', 'one.csv'), '1')
  await writeFile(path.join(dir, 'shared', 'sets', 'two.csv'), '2')
  await Datastore.registerFilesystem({ workspace, datastoreName: 'shared', path: path.join(dir, 'shared') })
})

afterAll(async () => {
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

function ref(
  config: Partial<DataReferenceConfig> & Pick<DataReferenceConfig, 'name' | 'datastore' | 'mode'>,
): DataReferenceConfig {
  return { pathOnDatastore: null, pathOnCompute: null, overwrite: false, ...config }
}

async function source(name: string, files: Record<string, string>): Promise<string> {
  const folder = path.join(dir, 'sources', name)
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(folder, file)), { recursive: true })
    await writeFile(path.join(folder, file), content)
  }
  return folder
}

function request(options: {
  sourceDirectory: string
  script: string | null
  command: string[]
  dataReferences?: DataReferenceConfig[]
  environmentVariables?: Record<string, string>
  maxRunDurationSeconds?: number
  python?: string
}): SubmitRequest {
  const definition: Omit<RunDefinition, 'sourceDirectoryDataStore'> = {
    script: options.script,
    command: options.command,
    dataReferences: options.dataReferences ?? [],
    environmentVariables: options.environmentVariables ?? {},
    python: options.python ?? null,
    maxRunDurationSeconds: options.maxRunDurationSeconds ?? 600,
  }
  return { experiment: 'submitted', sourceDirectory: options.sourceDirectory, definition, computeTarget: 'local' }
}

const references = [
  ref({ name: 'raw', datastore: 'workspaceblobstore', pathOnDatastore: 'raw', mode: 'download' }),
  ref({ name: 'sets', datastore: 'shared', pathOnDatastore: 'sets', mode: 'mount' }),
  ref({ name: 'model', datastore: 'workspaceblobstore', pathOnDatastore: 'models/{runId}', mode: 'upload' }),
]

const ENV_NAMES = [
  'WHARF_RUN_ID',
  'WHARF_TRACKING_URI',
  'WHARF_WORKSPACE',
  'WHARF_EXPERIMENT',
  'WHARF_AUTH_TOKEN',
  'AZUREML_RUN_ID',
  'AZUREML_ARM_PROJECT_NAME',
  'AZUREML_DATAREFERENCE_raw',
  'WHARF_DATAREFERENCE_sets',
  'WHARF_INPUTS_MANIFEST',
  'PYTHONUNBUFFERED',
  'MY_SETTING',
]

async function expectRunResults(runId: string, language: string): Promise<void> {
  const client = workspace.client
  const run = await waitForEnd(client, runId)
  const std = await readLog(client, runId, 'std_log.txt')
  expect(run.status, `${run.error?.message ?? ''}\n${std}`).toBe('Completed')
  expect(Object.keys(run.statusTimes)).toEqual(['Queued', 'Preparing', 'Running', 'Finalizing', 'Completed'])
  expect(run.error).toBeNull()
  // What the script saw.
  expect(std).toContain(`${language} read: hello from the datastore`)
  expect(std).toContain('mounted: one.csv,two.csv')
  expect(std).toContain('to stderr')
  const env = JSON.parse(await (await client.downloadArtifact(runId, 'outputs/env.json')).text()) as Record<
    string,
    string | null
  > & { argv: string[]; token: boolean; manifest: { name: string; mode: string; path: string }[] }
  expect(env.WHARF_RUN_ID).toBe(runId)
  expect(env.AZUREML_RUN_ID).toBe(runId)
  expect(env.WHARF_TRACKING_URI).toBe(server.url)
  expect(env.WHARF_WORKSPACE).toBe('default')
  expect(env.WHARF_EXPERIMENT).toBe('submitted')
  expect(env.AZUREML_ARM_PROJECT_NAME).toBe('submitted')
  expect(env.PYTHONUNBUFFERED).toBe('1')
  expect(env.MY_SETTING).toBe('on')
  expect(env.WHARF_AUTH_TOKEN).toBeNull() // the submitter's credentials never reach the run
  expect(env.token).toBe(true)
  // A mount of a path (not the whole datastore) goes through the server's file routes (proxy access),
  // which hold the run token to that path, so the script sees a folder of the run, not the shared one.
  expect(env.WHARF_DATAREFERENCE_sets).toBe(path.join(home, 'runs', runId, 'data', 'sets'))
  expect(env.AZUREML_DATAREFERENCE_raw).toBe(path.join(home, 'runs', runId, 'data', 'raw'))
  expect(env.argv).toEqual([
    '--data',
    path.join(home, 'runs', runId, 'data', 'raw'),
    `--sets=${path.join(home, 'runs', runId, 'data', 'sets')}/`,
  ])
  expect(env.manifest.map((entry) => [entry.name, entry.mode])).toEqual([
    ['raw', 'download'],
    ['sets', 'mount'],
    ['model', 'upload'],
  ])
  // Artifacts: outputs, ./logs, and the two logs.
  const artifacts = (await client.listArtifacts(runId).toArray()).map((a) => a.path).sort()
  expect(artifacts).toEqual(['logs/runner.txt', 'logs/script.log', 'logs/std_log.txt', 'outputs/env.json', 'outputs/result.txt'])
  expect(await (await client.downloadArtifact(runId, 'outputs/result.txt')).text()).toBe(`${language} ok`)
  expect(await (await client.downloadArtifact(runId, 'logs/std_log.txt')).text()).toBe(std)
  const runnerLog = await readLog(client, runId, 'runner.txt')
  expect(runnerLog).toContain('downloading raw')
  // Through the server, read-only: not the shared folder itself.
  expect(runnerLog).toContain(`mounted sets at ${path.join(home, 'runs', runId, 'data', 'sets')}`)
  expect(runnerLog).not.toContain('it is the datastore folder')
  expect(runnerLog).toContain('the script ended: exit code 0')
  expect(runnerLog).not.toContain(AUTH)
  // The upload reference reached the datastore.
  const blob = await Datastore.get(workspace, 'workspaceblobstore')
  const stored = []
  for await (const file of blob.list({ prefix: `models/${runId}/` })) stored.push(file.path)
  expect(stored).toEqual([`models/${runId}/model.bin`])
  // The working folder is gone; the runner's own log stays.
  await expect(stat(path.join(home, 'runs', runId, 'wd'))).rejects.toMatchObject({ code: 'ENOENT' })
  await expect(readFile(path.join(home, 'runs', runId, 'runner.log'), 'utf8')).resolves.toContain(`run ${runId} ended Completed`)
}

describe('submitRun on the local compute target', () => {
  it('runs a TypeScript script: inputs downloaded and mounted, environment, outputs, upload reference, logs', async () => {
    const folder = await source('node', {
      'train.ts': `import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
const raw: string = process.env.WHARF_DATAREFERENCE_raw ?? ''
console.log('node read: ' + readFileSync(raw + '/a.txt', 'utf8'))
console.log('mounted: ' + readdirSync(process.env.AZUREML_DATAREFERENCE_sets ?? '').sort().join(','))
console.error('to stderr')
writeFileSync('outputs/result.txt', 'node ok')
writeFileSync('logs/script.log', 'a log line')
writeFileSync((process.env.WHARF_DATAREFERENCE_model ?? '') + '/model.bin', 'weights')
const env: Record<string, unknown> = {}
for (const name of ${JSON.stringify(ENV_NAMES)}) env[name] = process.env[name] ?? null
env.token = (process.env.WHARF_RUN_TOKEN ?? '').length > 10
env.argv = process.argv.slice(2)
env.manifest = JSON.parse(readFileSync(process.env.WHARF_INPUTS_MANIFEST ?? '', 'utf8'))
writeFileSync('outputs/env.json', JSON.stringify(env))
`,
      '.gitignore': 'big/\n',
      'big/skip.bin': 'never sent',
    })
    const run = await submitRun(
      workspace,
      request({
        sourceDirectory: folder,
        script: 'train.ts',
        command: ['train.ts', '--data', '$AZUREML_DATAREFERENCE_raw', '--sets=$WHARF_DATAREFERENCE_sets/'],
        dataReferences: references,
        environmentVariables: { MY_SETTING: 'on' },
      }),
    )
    expect(run.status).toBe('Queued')
    expect(run.computeTarget).toBe('local')
    expect(run.scriptName).toBe('train.ts')
    expect(run.definition?.sourceDirectoryDataStore).toBe('workspaceblobstore')
    await expectRunResults(run.id, 'node')
    const snapshot = await workspace.client.call('getSnapshot', { params: { snapshotId: run.snapshotId ?? '' } })
    expect(snapshot.files.map((f) => f.path)).toEqual(['.gitignore', 'train.ts'])
  })

  it('runs a Python script the same way', async () => {
    const folder = await source('python', {
      'train.py': `import json, os, sys
raw = os.environ['WHARF_DATAREFERENCE_raw']
print('python read: ' + open(os.path.join(raw, 'a.txt')).read())
print('mounted: ' + ','.join(sorted(os.listdir(os.environ['AZUREML_DATAREFERENCE_sets']))))
print('to stderr', file=sys.stderr)
open('outputs/result.txt', 'w').write('python ok')
open('logs/script.log', 'w').write('a log line')
open(os.path.join(os.environ['WHARF_DATAREFERENCE_model'], 'model.bin'), 'w').write('weights')
env = {name: os.environ.get(name) for name in ${JSON.stringify(ENV_NAMES)}}
env['token'] = len(os.environ.get('WHARF_RUN_TOKEN', '')) > 10
env['argv'] = sys.argv[1:]
env['manifest'] = json.load(open(os.environ['WHARF_INPUTS_MANIFEST']))
json.dump(env, open('outputs/env.json', 'w'))
`,
    })
    const run = await submitRun(
      workspace,
      request({
        sourceDirectory: folder,
        script: 'train.py',
        command: ['train.py', '--data', '$AZUREML_DATAREFERENCE_raw', '--sets=$WHARF_DATAREFERENCE_sets/'],
        dataReferences: references,
        environmentVariables: { MY_SETTING: 'on' },
      }),
    )
    await expectRunResults(run.id, 'python')
  })

  it('fails a script that exits non-zero with the tail of its stderr, and keeps its outputs and logs', async () => {
    const folder = await source('failing', {
      'fail.py': `import os, sys
print('working')
print('token=' + os.environ['WHARF_RUN_TOKEN'])
print('token=' + os.environ['WHARF_RUN_TOKEN'], file=sys.stderr)
open('outputs/partial.txt', 'w').write('half done')
for i in range(30): print('stderr line %d' % i, file=sys.stderr)
print('ValueError: bad input', file=sys.stderr)
sys.exit(3)
`,
    })
    const run = await submitRun(workspace, request({ sourceDirectory: folder, script: 'fail.py', command: ['fail.py'] }))
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status).toBe('Failed')
    expect(ended.error?.code).toBe('SCRIPT_FAILED')
    expect(ended.error?.message).toMatch(/^the script exited with code 3: /)
    expect(ended.error?.message).toContain('ValueError: bad input')
    expect(ended.error?.message).toContain('stderr line 29')
    expect(ended.error?.message).not.toContain('stderr line 5\n') // only the tail
    expect(Object.keys(ended.statusTimes)).toEqual(['Queued', 'Preparing', 'Running', 'Finalizing', 'Failed'])
    expect(await (await workspace.client.downloadArtifact(run.id, 'outputs/partial.txt')).text()).toBe('half done')
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(std).toContain('working')
    // The run token never shows: not in the live log, not in the error.
    expect(std).toContain('token=***\n')
    expect(std).not.toMatch(/token=[^*]/)
    expect(ended.error?.message).not.toMatch(/token=[^*]/)
  })

  it('stops a run that outlives its maxRunDurationSeconds and fails it saying so', async () => {
    const folder = await source('slow', {
      'slow.mjs': "console.log('sleeping'); setTimeout(() => console.log('woke'), 60_000)\n",
    })
    const run = await submitRun(
      workspace,
      request({ sourceDirectory: folder, script: 'slow.mjs', command: ['slow.mjs'], maxRunDurationSeconds: 2 }),
    )
    const ended = await waitForEnd(workspace.client, run.id, 20_000)
    expect(ended.status).toBe('Failed')
    expect(ended.error?.code).toBe('RUN_TIMEOUT')
    expect(ended.error?.message).toContain('maximum duration of 2 s')
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(std).toContain('sleeping')
    expect(std).not.toContain('woke')
  })

  it('treats SIGTERM to the runner as a cancel', async () => {
    const folder = await source('runner-sigterm', { 'wait.mjs': "console.log('started'); setInterval(() => {}, 1000)\n" })
    const run = await submitRun(workspace, request({ sourceDirectory: folder, script: 'wait.mjs', command: ['wait.mjs'] }))
    await waitForLog(workspace.client, { runId: run.id, name: 'std_log.txt', text: 'started' })
    const runnerLog = await readFile(path.join(home, 'runs', run.id, 'runner.log'), 'utf8')
    const pid = Number(/runner (\d+) for run/.exec(runnerLog)?.[1])
    expect(pid).toBeGreaterThan(0)
    process.kill(pid, 'SIGTERM')
    const ended = await waitForEnd(workspace.client, run.id, 20_000)
    expect(ended.status).toBe('Canceled')
    expect(await readLog(workspace.client, run.id, 'runner.txt')).toContain('cancel requested')
  })

  it('fails the run with the reason when its compute target cannot start it', async () => {
    const folder = await source('launch', { 'a.py': 'print(1)' })
    const broken = { name: 'local', launch: () => Promise.reject(new Error('no room on this machine')) }
    const error = await submitRun(workspace, request({ sourceDirectory: folder, script: 'a.py', command: ['a.py'] }), {
      computeTargets: [broken],
    }).catch((e: unknown) => e)
    expect((error as Error).message).toBe('no room on this machine')
    const [latest] = await workspace.client.listRuns({ experiment: 'submitted', pageSize: 1 }).toArray()
    expect(latest?.status).toBe('Failed')
    expect(latest?.error).toMatchObject({
      code: 'LAUNCH_FAILED',
      message: expect.stringContaining('no room on this machine') as string,
    })
  })

  it('cancels a running script within seconds when asked through cancelRun, keeping its logs', async () => {
    const folder = await source('forever', {
      'loop.mjs': `process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(143) })
console.log('started')
setInterval(() => console.log('tick'), 200)
`,
    })
    const run = await submitRun(workspace, request({ sourceDirectory: folder, script: 'loop.mjs', command: ['loop.mjs'] }))
    await waitForLog(workspace.client, { runId: run.id, name: 'std_log.txt', text: 'started' })
    const asked = Date.now()
    await workspace.client.call('cancelRun', { params: { runId: run.id } })
    const ended = await waitForEnd(workspace.client, run.id, 10_000)
    const took = Date.now() - asked
    expect(ended.status).toBe('Canceled')
    expect(took).toBeLessThan(8000) // well inside the 10 s grace: SIGTERM was sent at once
    expect(Object.keys(ended.statusTimes)).toEqual(['Queued', 'Preparing', 'Running', 'Finalizing', 'Canceled'])
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(std).toContain('started')
    expect(std).toContain('got SIGTERM')
    expect(await readLog(workspace.client, run.id, 'runner.txt')).toContain('cancel requested')
  })

  it('runs a command run (no entry script) with the reference token replaced', async () => {
    const folder = await source('command', { 'data.txt': 'x' })
    const run = await submitRun(
      workspace,
      request({
        sourceDirectory: folder,
        script: null,
        command: ['ls', '$AZUREML_DATAREFERENCE_raw'],
        dataReferences: [ref({ name: 'raw', datastore: 'workspaceblobstore', pathOnDatastore: 'raw', mode: 'download' })],
      }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status).toBe('Completed')
    expect(ended.scriptName).toBeNull()
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(std.split('\n').sort().filter(Boolean)).toEqual(['a.txt', 'sub'])
  })

  it('runs an executable entry script directly, its executable bit kept by the snapshot', async () => {
    const folder = await source('shell', { 'run.sh': '#!/bin/sh\necho "shell got $1 in $(basename "$PWD")"\n', 'empty.txt': '' })
    await chmod(path.join(folder, 'run.sh'), 0o755)
    const run = await submitRun(
      workspace,
      request({ sourceDirectory: folder, script: 'run.sh', command: ['run.sh', 'an argument'] }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(ended.status, std).toBe('Completed')
    expect(std).toBe('shell got an argument in wd\n')
  })

  it('streams a large output with multi-byte text whole and in order, stdout and stderr each', async () => {
    const folder = await source('chatty', {
      'chatty.py': `import sys
for i in range(4000):
    print('out %05d ünïcødé ✓ 日本' % i)
    if i % 10 == 0:
        print('err %05d' % i, file=sys.stderr)
`,
    })
    const run = await submitRun(workspace, request({ sourceDirectory: folder, script: 'chatty.py', command: ['chatty.py'] }))
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status).toBe('Completed')
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    const lines = std.split('\n').filter(Boolean)
    expect(lines.filter((l) => l.startsWith('out '))).toEqual(
      Array.from({ length: 4000 }, (_, i) => `out ${String(i).padStart(5, '0')} ünïcødé ✓ 日本`),
    )
    expect(lines.filter((l) => l.startsWith('err '))).toEqual(
      Array.from({ length: 400 }, (_, i) => `err ${String(i * 10).padStart(5, '0')}`),
    )
    expect(lines).toHaveLength(4400)
    expect(await (await workspace.client.downloadArtifact(run.id, 'logs/std_log.txt')).text()).toBe(std)
  })

  it('downloads a one-file reference (its path names the file) and uploads a file the script wrote', async () => {
    const folder = await source('one-file', {
      'copy.mjs': `import { readFileSync, writeFileSync } from 'node:fs'
const text = readFileSync(process.env.WHARF_DATAREFERENCE_note, 'utf8')
writeFileSync('result.txt', text.toUpperCase())
`,
    })
    const run = await submitRun(
      workspace,
      request({
        sourceDirectory: folder,
        script: 'copy.mjs',
        command: ['copy.mjs'],
        dataReferences: [
          ref({ name: 'note', datastore: 'workspaceblobstore', pathOnDatastore: 'raw/a.txt', mode: 'download' }),
          ref({
            name: 'result',
            datastore: 'shared',
            pathOnDatastore: 'results/{runId}',
            pathOnCompute: 'result.txt',
            mode: 'upload',
          }),
        ],
      }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status, await readLog(workspace.client, run.id, 'runner.txt')).toBe('Completed')
    expect(await readFile(path.join(dir, 'shared', 'results', run.id, 'result.txt'), 'utf8')).toBe('HELLO FROM THE DATASTORE')
  })

  it('fails a run whose Python interpreter is missing, saying how to name one', async () => {
    const folder = await source('no-python', { 'a.py': 'print(1)\n' })
    const run = await submitRun(
      workspace,
      request({ sourceDirectory: folder, script: 'a.py', command: ['a.py'], python: path.join(dir, 'no-such-python') }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status).toBe('Failed')
    expect(ended.error?.code).toBe('INVALID_ARGUMENT')
    expect(ended.error?.message).toContain('it was not found')
    expect(ended.error?.message).toContain("name the Python interpreter in the run's definition")
  })

  it('keeps the working folder when asked', async () => {
    const folder = await source('keep', {
      'keep.mjs': "import { writeFileSync } from 'node:fs'; writeFileSync('left.txt', 'here')\n",
    })
    const run = await submitRun(workspace, request({ sourceDirectory: folder, script: 'keep.mjs', command: ['keep.mjs'] }), {
      keepWorkingFolder: true,
    })
    expect((await waitForEnd(workspace.client, run.id)).status).toBe('Completed')
    expect(await readFile(path.join(home, 'runs', run.id, 'wd', 'left.txt'), 'utf8')).toBe('here')
  })

  it('fails before the script starts when an input cannot be reached, naming it', async () => {
    const folder = await source('missing-input', { 'never.py': 'open("outputs/ran", "w")' })
    const run = await submitRun(
      workspace,
      request({
        sourceDirectory: folder,
        script: 'never.py',
        command: ['never.py'],
        dataReferences: [
          ref({ name: 'gone', datastore: 'workspaceblobstore', pathOnDatastore: 'no/such/folder', mode: 'download' }),
        ],
      }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status).toBe('Failed')
    expect(ended.error?.code).toBe('FILE_NOT_FOUND')
    expect(ended.error?.message).toContain('data reference "gone"')
    expect(Object.keys(ended.statusTimes)).not.toContain('Running')
    expect((await workspace.client.listArtifacts(run.id).toArray()).map((a) => a.path)).not.toContain('outputs/ran')
  })

  it("links the project's node_modules into the working folder for a Node entry script only", async () => {
    const folder = await source('node-modules-link', {
      '.gitignore': 'node_modules/\n',
      'node_modules/marker/index.js': 'export default 1\n',
      'check.mjs':
        "import { existsSync } from 'node:fs'\nconsole.log(existsSync('node_modules/marker/index.js') ? 'linked' : 'not linked')\n",
      'check.sh': '#!/bin/sh\nif [ -e node_modules ]; then echo linked; else echo not linked; fi\n',
    })
    await chmod(path.join(folder, 'check.sh'), 0o755)
    const outputOf = async (script: string | null, command: string[]): Promise<string> => {
      const run = await submitRun(workspace, request({ sourceDirectory: folder, script, command }))
      const ended = await waitForEnd(workspace.client, run.id)
      const std = await readLog(workspace.client, run.id, 'std_log.txt')
      expect(ended.status, std).toBe('Completed')
      return std
    }
    expect(await outputOf('check.mjs', ['check.mjs'])).toBe('linked\n')
    expect(await outputOf('check.sh', ['check.sh'])).toBe('not linked\n')
    expect(await outputOf(null, ['sh', 'check.sh'])).toBe('not linked\n')
  })

  it('refuses a data reference placed under node_modules before the script starts', async () => {
    const folder = await source('reference-in-node-modules', {
      'never.mjs': "import { writeFileSync } from 'node:fs'\nwriteFileSync('outputs/ran', 'x')\n",
    })
    const run = await submitRun(
      workspace,
      request({
        sourceDirectory: folder,
        script: 'never.mjs',
        command: ['never.mjs'],
        dataReferences: [
          ref({
            name: 'raw',
            datastore: 'workspaceblobstore',
            pathOnDatastore: 'raw',
            pathOnCompute: 'node_modules/raw',
            mode: 'download',
          }),
        ],
      }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    expect(ended.status).toBe('Failed')
    expect(ended.error?.code).toBe('INVALID_ARGUMENT')
    expect(ended.error?.message).toContain('data reference "raw"')
    expect(ended.error?.message).toContain('node_modules')
    expect(Object.keys(ended.statusTimes)).not.toContain('Running')
    expect((await workspace.client.listArtifacts(run.id).toArray()).map((a) => a.path)).not.toContain('outputs/ran')
  })

  it('uploads nothing for an unchanged folder: one createSnapshot call answers complete', async () => {
    const files: Record<string, string> = {}
    // Contents no other test has: the server keeps each content once, whoever uploaded it.
    for (let i = 0; i < 50; i++) files[`src/file-${i}.py`] = `print('unchanged ${i}')\n`
    files['src/__init__.py'] = ''
    const folder = await source('unchanged', files)
    const first = await createSnapshot(workspace.client, folder)
    expect(first.summary.complete).toBe(true)
    // The empty file's content may be stored already (another test's): it is sent at most once.
    expect(first.uploadedFiles).toBeGreaterThanOrEqual(50)
    const again = await createSnapshot(workspace.client, folder)
    expect(again.summary.id).toBe(first.summary.id)
    expect(again.uploadedFiles).toBe(0)
    await writeFile(path.join(folder, 'src', 'file-7.py'), 'print("changed")\n')
    const changed = await createSnapshot(workspace.client, folder)
    expect(changed.summary.id).not.toBe(first.summary.id)
    expect(changed.uploadedFiles).toBe(1)
  })

  it('refuses an unknown compute target before anything is created', async () => {
    const folder = await source('target', { 'a.py': '' })
    await expect(
      submitRun(workspace, {
        ...request({ sourceDirectory: folder, script: 'a.py', command: ['a.py'] }),
        computeTarget: 'gpu-cluster',
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('"local"') as string })
  })
})
