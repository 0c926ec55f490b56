// Submitted runs end to end: the SDK's submit, the runner in its own process, a real server, a folder
// datastore, an Azurite container mounted through rclone, a real Python and a real Node script.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Run as RunInfo } from '@wharf/contract'
import { rejectionCodeOf } from '@wharf/contract/test-support'
import type { Run } from '@wharf/sdk'
import { Datastore, ScriptRunConfig, Workspace } from '@wharf/sdk'
import { startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import { startTestServer, type TestServer } from '@wharf/server/test-support'
import { runWharf } from './test-support/run-cli.js'

const PYTHON = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined
const FUSE =
  existsSync('/dev/fuse') && spawnSync('rclone', ['version']).status === 0 && spawnSync('fusermount3', ['-V']).status === 0
if (!PYTHON) process.stdout.write('e2e: the Python script cases are skipped: python3 is not on PATH\n')
if (!FUSE)
  process.stdout.write(
    'e2e: the rclone mount cases are skipped: /dev/fuse, rclone or fusermount3 is missing (apt-get install -y rclone fuse3)\n',
  )

let azurite: AzuriteInstance
let server: TestServer
let root: string
let shared: string
let ws: Workspace
let wharfHome: string

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'wharf-e2e-'))
  shared = path.join(root, 'shared')
  wharfHome = path.join(root, 'home')
  await mkdir(path.join(shared, 'labels'), { recursive: true })
  await mkdir(path.join(shared, 'train'), { recursive: true })
  await writeFile(path.join(shared, 'labels', 'labels.txt'), 'cat\ndog\n')
  await writeFile(path.join(shared, 'train', 'digits.csv'), '1,2,3\n')
  azurite = await startAzurite()
  server = await startTestServer('sqlite', {
    // Long enough that a runner's heartbeat is never late on a loaded 2-core machine (the studio's browser
    // tests run beside these), short enough that the killed-runner case ends well inside its timeout.
    config: { filesystemRoots: [root], runnerTimeoutSeconds: 15 },
  })
  ws = Workspace.connect({ url: server.url, spoolDir: path.join(wharfHome, 'spool') })
  await Datastore.registerFilesystem({ workspace: ws, datastoreName: 'shared', path: shared })
  const images = await Datastore.registerAzureBlobContainer({
    workspace: ws,
    datastoreName: 'images',
    containerName: 'images',
    accountName: azurite.accountName,
    accountKey: azurite.accountKey,
    endpoint: azurite.endpoint,
    createIfNotExists: true,
  })
  const seed = path.join(root, 'seed')
  await mkdir(path.join(seed, 'pixels'), { recursive: true })
  await writeFile(path.join(seed, 'pixels', 'a.txt'), 'pixel-a')
  await images.upload({ srcDir: seed, showProgress: false })
})

afterAll(async () => {
  await server?.stop()
  await azurite?.stop()
  await rm(root, { recursive: true, force: true })
})

async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name)
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true })
    await writeFile(path.join(dir, file), content)
  }
  return dir
}

/**
 * Submits a TypeScript project whose one script is `lines`, with this repository's node_modules linked
 * in as `npm install` would leave @wharf/sdk, and follows it to its end, collecting what it printed.
 */
async function submitTypeScript(options: {
  name: string
  experiment: string
  script: string
  lines: string[]
  arguments?: (string | number)[]
}): Promise<{ dir: string; run: Run; info: RunInfo; out: string }> {
  const dir = await project(options.name, {
    [options.script]: options.lines.join('\n'),
    'package.json': JSON.stringify({ name: options.name, private: true, type: 'module' }),
    '.gitignore': 'node_modules/\n',
  })
  await symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir')
  const config = new ScriptRunConfig({ sourceDirectory: dir, script: options.script, arguments: options.arguments ?? [] })
  const run = await ws.experiment(options.experiment).submit(config)
  let out = ''
  const info = await run.waitForCompletion({
    showOutput: true,
    raiseOnError: false,
    output: { write: (chunk: string) => ((out += chunk), true) } as never,
  })
  return { dir, run, info, out }
}

/** The script reports what it saw in outputs/seen.json; both scripts write the same shape. */
interface Seen {
  env: Record<string, string | null>
  argv: string[]
  labels: string
  mountedCsv: string
  mountedBlob: string | null
  cwd: string
}

const PY_TRAIN = String.raw`
import json, os, sys, urllib.request
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
labels = open(os.path.join(os.environ['WHARF_DATAREFERENCE_labels'], 'labels.txt')).read()
mounted_csv = open(os.path.join(args['--train'], 'digits.csv')).read()
blob = args.get('--pixels')
mounted_blob = open(os.path.join(blob, 'a.txt')).read() if blob else None
url = '%s/api/v1/workspaces/%s/runs/%s/metrics' % (os.environ['WHARF_TRACKING_URI'], os.environ['WHARF_WORKSPACE'], os.environ['WHARF_RUN_ID'])
body = json.dumps({'points': [{'name': 'loss', 'value': 0.5, 'step': 0}, {'name': 'loss', 'value': 0.25, 'step': 1}]}).encode()
req = urllib.request.Request(url, data=body, method='POST', headers={'content-type': 'application/json', 'authorization': 'Bearer ' + os.environ['WHARF_RUN_TOKEN']})
urllib.request.urlopen(req).read()
os.makedirs('outputs', exist_ok=True)
names = ['WHARF_RUN_ID', 'AZUREML_RUN_ID', 'WHARF_EXPERIMENT', 'WHARF_WORKSPACE', 'WHARF_INPUTS_MANIFEST', 'SEED',
         'WHARF_DATAREFERENCE_labels', 'AZUREML_DATAREFERENCE_labels', 'WHARF_DATAREFERENCE_shared_train']
seen = {'env': {n: os.environ.get(n) for n in names}, 'argv': sys.argv[1:], 'labels': labels,
        'mountedCsv': mounted_csv, 'mountedBlob': mounted_blob, 'cwd': os.getcwd()}
json.dump(seen, open('outputs/seen.json', 'w'))
os.makedirs('model', exist_ok=True)
open('model/weights.txt', 'w').write('weights of ' + os.environ['WHARF_RUN_ID'])
print('epoch 1 done', flush=True)
print('a warning', file=sys.stderr, flush=True)
`

const NODE_TRAIN = `
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
const argv = process.argv.slice(2)
const arg = (name) => argv[argv.indexOf(name) + 1]
const labels = readFileSync(path.join(process.env.WHARF_DATAREFERENCE_labels, 'labels.txt'), 'utf8')
const mountedCsv = readFileSync(path.join(arg('--train'), 'digits.csv'), 'utf8')
const pixels = argv.includes('--pixels') ? readFileSync(path.join(arg('--pixels'), 'a.txt'), 'utf8') : null
mkdirSync('outputs', { recursive: true })
const names = ['WHARF_RUN_ID', 'AZUREML_RUN_ID', 'WHARF_EXPERIMENT', 'WHARF_WORKSPACE', 'WHARF_INPUTS_MANIFEST', 'SEED',
  'WHARF_DATAREFERENCE_labels', 'AZUREML_DATAREFERENCE_labels', 'WHARF_DATAREFERENCE_shared_train']
const env = Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]))
writeFileSync('outputs/seen.json', JSON.stringify({ env, argv, labels, mountedCsv, mountedBlob: pixels, cwd: process.cwd() }))
mkdirSync('model', { recursive: true })
writeFileSync('model/weights.txt', 'weights of ' + process.env.WHARF_RUN_ID)
console.log('epoch 1 done')
console.error('a warning')
`

async function submitTraining(options: {
  language: 'python' | 'node'
  experiment: string
}): Promise<{ run: Run; info: RunInfo; out: string; dir: string }> {
  const script = options.language === 'python' ? 'train.py' : 'train.mjs'
  const dir = await project(`${options.experiment}-src`, {
    [script]: options.language === 'python' ? PY_TRAIN : NODE_TRAIN,
    'helper.txt': 'kept',
    'secret.txt': 'must not be in the snapshot',
    'data/big.bin': 'x'.repeat(10_000),
    '.wharfignore': 'secret.txt\ndata/\n',
  })
  const sharedDs = await Datastore.get(ws, 'shared')
  const images = await Datastore.get(ws, 'images')
  const args: (string | number | ReturnType<typeof sharedDs.asMount>)[] = [
    '--train',
    sharedDs.path('train').asMount(),
    '--epochs',
    3,
  ]
  if (FUSE) args.push('--pixels', images.path('pixels').asMount())
  const config = new ScriptRunConfig({
    sourceDirectory: dir,
    script,
    arguments: args,
    inputs: [sharedDs.path('labels', { dataReferenceName: 'labels' }).asDownload({ pathOnCompute: 'labels' })],
    outputs: [sharedDs.path('models/{runId}').asUpload({ pathOnCompute: 'model' })],
    environmentVariables: { SEED: '1' },
  })
  const run = await ws.experiment(options.experiment).submit(config)
  let out = ''
  const info = await run.waitForCompletion({
    showOutput: true,
    output: { write: (chunk: string) => ((out += chunk), true) } as never,
  })
  return { run, info, out, dir }
}

describe.each([
  { language: 'python' as const, enabled: PYTHON !== undefined },
  { language: 'node' as const, enabled: true },
])('a $language script submitted with inputs and outputs', ({ language, enabled }) => {
  it.runIf(enabled)('reads its inputs, logs, writes outputs, and ends Completed with everything kept', async () => {
    const { run, info, out } = await submitTraining({ language, experiment: `e2e-${language}` })
    expect(info.status, JSON.stringify(info.error)).toBe('Completed')
    for (const status of ['Queued', 'Preparing', 'Running', 'Finalizing', 'Completed'] as const)
      expect(info.statusTimes[status]).toBeTruthy()
    expect(out).toContain('epoch 1 done')
    expect(out).toContain('a warning')

    const names = await run.getFileNames()
    expect(names).toEqual(expect.arrayContaining(['outputs/seen.json', 'logs/std_log.txt']))
    const seenFile = path.join(root, `seen-${language}`)
    await run.downloadFile('outputs/seen.json', { outputFilePath: seenFile })
    const seen = JSON.parse(await readFile(seenFile, 'utf8')) as Seen
    expect(seen.labels).toBe('cat\ndog\n')
    expect(seen.mountedCsv).toBe('1,2,3\n')
    if (FUSE) expect(seen.mountedBlob).toBe('pixel-a')
    expect(seen.env.WHARF_RUN_ID).toBe(run.id)
    expect(seen.env.AZUREML_RUN_ID).toBe(run.id)
    expect(seen.env.WHARF_EXPERIMENT).toBe(`e2e-${language}`)
    expect(seen.env.SEED).toBe('1')
    expect(seen.env.WHARF_DATAREFERENCE_labels).toBe(path.join(seen.cwd, 'labels'))
    expect(seen.env.AZUREML_DATAREFERENCE_labels).toBe(seen.env.WHARF_DATAREFERENCE_labels)
    // A path of the folder datastore mounts through the server's file routes (the run token reaches only
    // that path, so it gets proxy access), in a folder of the run; the token in the arguments became the path.
    expect(seen.argv.slice(0, 4)).toEqual([
      '--train',
      path.join(wharfHome, 'runs', run.id, 'data', 'shared_train'),
      '--epochs',
      '3',
    ])
    const manifest = JSON.parse(await readFile(seen.env.WHARF_INPUTS_MANIFEST!, 'utf8').catch(() => '[]')) as unknown
    expect(manifest).toBeDefined()

    // The asUpload reference landed in the datastore under the run's id.
    expect(await readFile(path.join(shared, 'models', run.id, 'weights.txt'), 'utf8')).toBe(`weights of ${run.id}`)
    // Metrics: the Python script posted them over plain HTTP with its run token.
    if (language === 'python') expect((await run.getMetrics()).loss).toEqual([0.5, 0.25])
  })
})

describe('the source snapshot', () => {
  it('leaves ignored files out, can be downloaded, and an unchanged resubmit stores no new bytes', async () => {
    const dir = await project('snap-src', {
      'run.mjs': 'console.log("hello from the snapshot")\n',
      'keep/me.txt': 'kept',
      'secret.txt': 'ignored',
      '.wharfignore': 'secret.txt\n',
    })
    const submit = async () => {
      const run = await ws.experiment('e2e-snapshot').submit(new ScriptRunConfig({ sourceDirectory: dir, script: 'run.mjs' }))
      return { run, info: await run.waitForCompletion() }
    }
    const first = await submit()
    const blobsBefore = await countFiles(server.dataDir)
    expect(blobsBefore).toBeGreaterThanOrEqual(3)
    const second = await submit()
    expect(second.info.status).toBe('Completed')
    expect(second.info.snapshotId).toBe(first.info.snapshotId)
    expect(await countFiles(server.dataDir)).toBe(blobsBefore)

    const into = path.join(root, 'snapshot-out')
    const shown = await runWharf(['run', 'show', first.run.id, '--snapshot', into], {
      cwd: root,
      env: { WHARF_TRACKING_URI: server.url },
    })
    expect(shown.code, shown.stderr).toBe(0)
    expect((await readdir(into, { recursive: true })).sort()).toEqual(['.wharfignore', 'keep', 'keep/me.txt', 'run.mjs'])
  })
})

/** The snapshot contents the server keeps (in workspaceblobstore, a folder under its data folder here). */
async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile() && e.parentPath.includes(path.join('.wharf', 'snapshots', 'blobs'))).length
}

describe('a TypeScript script that logs through the SDK', () => {
  it("imports @wharf/sdk from its project's node_modules (left out of the snapshot) and logs to its run", async () => {
    const { dir, run, info, out } = await submitTypeScript({
      name: 'ts-src',
      experiment: 'e2e-ts',
      script: 'train.ts',
      arguments: ['--epochs', 3],
      lines: [
        "import { Run } from '@wharf/sdk'",
        'const run = await Run.getContext()',
        "const epochs: number = Number(process.argv[process.argv.indexOf('--epochs') + 1])",
        "for (let epoch = 0; epoch < epochs; epoch++) run.log('accuracy', 0.5 + epoch / 10)",
        "await run.log('done', 'yes').wait()",
        "console.log('logged', epochs, 'epochs to', run.id)",
      ],
    })
    expect(info.status, `${JSON.stringify(info.error)}\n${out}`).toBe('Completed')
    expect(out).toContain(`logged 3 epochs to ${run.id}`)
    expect((await run.getMetrics()).accuracy).toEqual([0.5, 0.6, 0.7])
    // The snapshot left node_modules out; the link the runner made is gone with the working folder, the project's is not.
    expect(existsSync(path.join(dir, 'node_modules', '@wharf', 'sdk', 'package.json'))).toBe(true)
  })

  it('run.complete() and `await using` in the script leave the end to the runner: Completed, with its outputs and logs', async () => {
    const { run, info, out } = await submitTypeScript({
      name: 'ts-complete-src',
      experiment: 'e2e-ts-complete',
      script: 'train.ts',
      lines: [
        "import { mkdirSync, writeFileSync } from 'node:fs'",
        "import { Run } from '@wharf/sdk'",
        'const run = await Run.getContext()',
        '{',
        '  await using scoped = run',
        "  scoped.log('loss', 0.25)",
        '}',
        "run.log('accuracy', 0.9)",
        'const info = await run.complete()',
        "console.log('status after complete:', info.status)",
        "mkdirSync('outputs', { recursive: true })",
        "writeFileSync('outputs/x.txt', 'written after complete')",
      ],
    })
    expect(info.status, `${JSON.stringify(info.error)}\n${out}`).toBe('Completed')
    expect(out).toContain('status after complete: Running')
    const files = await run.getFileNames()
    expect(files).toContain('outputs/x.txt')
    expect(files).toContain('logs/std_log.txt')
    const metrics = await run.getMetrics()
    expect(metrics.loss).toBe(0.25)
    expect(metrics.accuracy).toBe(0.9)
  })
})

describe('a submitted script and registered models', () => {
  it('loads a published model by alias, and registers the model it just wrote to outputs/ with an alias', async () => {
    // A base model from an earlier run, published as base@production.
    const earlier = await ws.experiment('e2e-models').startLogging({ outputs: false })
    await earlier.uploadContent('outputs/base.txt', 'base weights')
    await earlier.complete()
    await earlier.registerModel({ modelName: 'e2e-base', modelPath: 'base.txt', aliases: ['production'] })

    const { run, info, out } = await submitTypeScript({
      name: 'ts-models-src',
      experiment: 'e2e-models',
      script: 'finetune.ts',
      lines: [
        "import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'",
        "import { Asset, Run } from '@wharf/sdk'",
        'const run = await Run.getContext()',
        "const base = await Asset.get(run.workspace, 'e2e-base', { version: 'production' })",
        "const [file] = await base.download({ targetDir: 'base' })",
        "const weights = readFileSync('base/base.txt', 'utf8')",
        "mkdirSync('outputs', { recursive: true })",
        "writeFileSync('outputs/tuned.txt', `${weights} + tuned`)",
        "const version = await run.registerModel({ modelName: 'e2e-tuned', modelPath: 'tuned.txt', aliases: ['candidate'] })",
        "console.log('base', base.info.version, file === undefined ? 'none' : 'downloaded', 'registered', version.version)",
      ],
    })
    expect(info.status, `${JSON.stringify(info.error)}\n${out}`).toBe('Completed')
    expect(out).toContain('base 1 downloaded registered 1')
    const tuned = await ws.client.getAssetVersion('e2e-tuned', 'candidate')
    expect([tuned.version, tuned.sourceRunId, tuned.artifactPath]).toEqual([1, run.id, 'outputs/tuned.txt'])
    const body = await (await ws.client.downloadAssetFile({ name: 'e2e-tuned', version: 1, path: 'tuned.txt' })).text()
    expect(body).toBe('base weights + tuned')
    // The runner's own upload at the end found the file already there, unchanged.
    expect(await run.getFileNames()).toContain('outputs/tuned.txt')
  })
})

describe('the interpreter', () => {
  it.runIf(PYTHON !== undefined)(
    'a "python" setting in .wharf/config.json runs .py scripts with the project\'s virtualenv',
    async () => {
      const dir = await project('venv-src', {
        'train.py': 'import os\nprint("via venv:", os.environ.get("VIA_VENV"))\n',
        '.venv/bin/python': '#!/bin/sh\nexport VIA_VENV=yes\nexec python3 "$@"\n',
        '.wharfignore': '.venv/\n',
        '.wharf/config.json': JSON.stringify({ url: server.url, python: '.venv/bin/python' }),
      })
      await chmod(path.join(dir, '.venv', 'bin', 'python'), 0o755)
      const submitted = await runWharf(['run', 'submit', '--experiment', 'e2e-venv', '--script', 'train.py'], {
        cwd: dir,
        env: { WHARF_HOME: wharfHome },
      })
      expect(submitted.code, submitted.stderr).toBe(0)
      expect(submitted.stdout).toContain('via venv: yes')
    },
  )
})

describe('runs that do not end well', () => {
  it('a failing script ends Failed with the tail of stderr, its outputs and logs kept', async () => {
    const dir = await project('fail-src', {
      'fail.mjs': `import { mkdirSync, writeFileSync } from 'node:fs'\nmkdirSync('outputs', { recursive: true })\nwriteFileSync('outputs/partial.txt', 'half')\nconsole.log('working')\nconsole.error('ValueError: the labels do not match')\nprocess.exit(3)\n`,
    })
    const run = await ws.experiment('e2e-fail').submit(new ScriptRunConfig({ sourceDirectory: dir, script: 'fail.mjs' }))
    expect(await rejectionCodeOf(run.waitForCompletion())).toBe('RUN_FAILED')
    const info = await run.getDetails()
    expect(info.status).toBe('Failed')
    expect(info.error?.message).toContain('exited with code 3')
    expect(info.error?.message).toContain('ValueError: the labels do not match')
    expect(await run.getFileNames()).toEqual(expect.arrayContaining(['outputs/partial.txt', 'logs/std_log.txt']))
  })

  it('a cancel from a second process stops the script within seconds and ends Canceled with its logs', async () => {
    const dir = await project('cancel-src', {
      'slow.mjs': `console.log('started'); setInterval(() => console.log('tick'), 200)\n`,
    })
    const run = await ws.experiment('e2e-cancel').submit(new ScriptRunConfig({ sourceDirectory: dir, script: 'slow.mjs' }))
    await waitForLog(run, 'started')
    // Another terminal follows the live log while the script runs; it ends when the run does.
    const following = runWharf(['run', 'logs', '-f', run.id], { cwd: root, env: { WHARF_TRACKING_URI: server.url } })
    await waitForLog(run, 'tick')
    const asked = Date.now()
    const cancel = await runWharf(['run', 'cancel', run.id], { cwd: root, env: { WHARF_TRACKING_URI: server.url } })
    expect(cancel.code, cancel.stderr).toBe(0)
    const info = await run.waitForCompletion({ raiseOnError: false })
    expect(info.status).toBe('Canceled')
    const followed = await following
    expect(followed.stdout).toMatch(/^started\ntick\n/)
    expect(Date.parse(info.statusTimes.Finalizing ?? info.endedAt!) - asked).toBeLessThan(5_000)
    expect(await run.getFileNames()).toContain('logs/std_log.txt')
  })

  it('a killed runner leaves its run Failed (the server watches the heartbeat), never Running', async () => {
    const dir = await project('orphan-src', { 'slow.mjs': `console.log('started'); setTimeout(() => {}, 60_000)\n` })
    const run = await ws.experiment('e2e-killed').submit(new ScriptRunConfig({ sourceDirectory: dir, script: 'slow.mjs' }))
    await waitForLog(run, 'started')
    const script = () => processesOfRun(run.id).filter((line) => line.includes('slow.mjs'))
    expect(script()).toHaveLength(1)
    killRunnerOf(run.id)
    const info = await run.waitForCompletion({ raiseOnError: false })
    expect(info.status).toBe('Failed')
    expect(info.error?.code).toBe('RUNNER_LOST')
    const log = await collect(run.logs('std_log.txt'))
    expect(log).toContain('started')
    // The script died with its runner (parent-death signal): nothing runs on with the run's token.
    expect(script()).toEqual([])
  })
})

async function waitForLog(run: Run, text: string): Promise<void> {
  for await (const chunk of run.logs('std_log.txt', { follow: true })) if (chunk.includes(text)) return
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = ''
  for await (const chunk of chunks) text += chunk
  return text
}

/** The processes whose environment names the run (its runner and its script), as "pid command" lines. */
function processesOfRun(runId: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`WHARF_RUN_ID=${runId}`)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`)
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

/** SIGKILLs the runner process of a run: the process whose command is the runner's and whose environment names the run. */
function killRunnerOf(runId: string): void {
  for (const pid of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
      if (cmdline.includes(`${path.sep}runner${path.sep}`) && environ.includes(`WHARF_RUN_ID=${runId}`)) {
        process.kill(Number(pid), 'SIGKILL')
        return
      }
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error(`no runner process for run ${runId}`)
}
