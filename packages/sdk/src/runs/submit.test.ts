import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejectionOf } from '@wharf/contract/test-support'
import { startSdkTestServer } from '../test-support/sdk-server.js'
import { Workspace } from '../workspace.js'
import { Estimator } from './estimator.js'
import { ScriptRunConfig } from './script-run-config.js'

let t: Awaited<ReturnType<typeof startSdkTestServer>>
let ws: Workspace
let work: string
let source: string

/**
 * The script a submitted run executes, as plain Node (its folder has no node_modules): it reads its
 * input, prints, writes ./outputs and logs a metric through the API with the run's own token.
 */
const TRAIN = `
import { readFile, writeFile } from 'node:fs/promises'
const data = process.argv[process.argv.indexOf('--data') + 1]
const text = await readFile(data + '/greeting.txt', 'utf8')
console.log('input says: ' + text.trim())
console.error('epochs: ' + process.env.EPOCHS)
await writeFile('outputs/model.txt', 'weights of ' + process.env.WHARF_RUN_ID)
const url = process.env.WHARF_TRACKING_URI + '/api/v1/workspaces/' + process.env.WHARF_WORKSPACE + '/runs/' + process.env.WHARF_RUN_ID + '/metrics'
const response = await fetch(url, {
  method: 'POST',
  headers: { authorization: 'Bearer ' + process.env.WHARF_RUN_TOKEN, 'content-type': 'application/json' },
  body: JSON.stringify({ series: [{ name: 'accuracy', values: [0.5, 0.93] }] }),
})
if (!response.ok) throw new Error('metric refused: ' + response.status + ' ' + (await response.text()))
console.log('done')
`

beforeAll(async () => {
  t = await startSdkTestServer()
  work = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-submit-'))
  ws = Workspace.connect({ url: t.url, spoolDir: path.join(work, 'home', 'spool') })
  source = path.join(work, 'project')
  await mkdir(path.join(source, 'data'), { recursive: true })
  await writeFile(path.join(source, 'train.mjs'), TRAIN)
  await writeFile(path.join(source, 'fail.mjs'), "console.log('about to fail')\nprocess.exit(3)\n")
  await writeFile(path.join(source, 'long.mjs'), "console.log('working')\nsetInterval(() => console.log('still working'), 200)\n")
  await writeFile(path.join(work, 'greeting.txt'), 'hello from the datastore\n')
  const store = await ws.getDefaultDatastore()
  await store.uploadFiles({ files: [path.join(work, 'greeting.txt')], targetPath: 'inputs', showProgress: false })
})
afterAll(async () => {
  await t?.stop()
  await rm(work, { recursive: true, force: true })
})

function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}

describe('Experiment.submit', () => {
  it('runs a script with a downloaded input to Completed, its output followed live, its outputs and metric kept', async () => {
    const store = await ws.getDefaultDatastore()
    const config = new ScriptRunConfig({
      sourceDirectory: source,
      script: 'train.mjs',
      arguments: ['--data', store.path('inputs').asDownload()],
      environmentVariables: { EPOCHS: '3' },
      displayName: 'submitted from the SDK',
    })
    const run = await ws.experiment('sdk-submit').submit(config)
    expect(run.info.status).toBe('Queued')
    expect(run.definition?.command).toEqual(['train.mjs', '--data', '$WHARF_DATAREFERENCE_workspaceblobstore_inputs'])
    expect(run.snapshotId).not.toBeNull()
    const output = collector()
    const info = await run.waitForCompletion({ showOutput: true, output: output.stream })
    expect(info.status, output.text()).toBe('Completed')
    expect(output.text()).toContain('input says: hello from the datastore')
    expect(output.text()).toContain('epochs: 3')
    expect(output.text()).toContain('done')
    expect(Object.keys(run.statusTimes)).toEqual(expect.arrayContaining(['Queued', 'Running', 'Completed']))
    expect(await run.getFileNames()).toContain('outputs/model.txt')
    expect(await run.getMetrics({ name: 'accuracy' })).toEqual({ accuracy: [0.5, 0.93] })
    // The log is kept: read again from the start, without following.
    let again = ''
    for await (const text of run.logs()) again += text
    expect(again).toContain('input says: hello from the datastore')
    expect((await run.listLogs()).map((log) => log.name)).toContain('std_log.txt')
    // Cancelling a run that ended asks nothing.
    expect(await run.cancel()).toBe(false)
  })

  it('raises RUN_FAILED with the run error for a failing script, or returns the run without raiseOnError', async () => {
    const run = await ws.experiment('sdk-submit').submit(new Estimator({ sourceDirectory: source, entryScript: 'fail.mjs' }))
    const error = await rejectionOf(run.waitForCompletion(), 'RUN_FAILED')
    const info = await run.refresh()
    expect(info.status).toBe('Failed')
    expect(error.message).toBe(info.error?.message)
    expect(error.message).toMatch(/3/)
    expect((await run.waitForCompletion({ raiseOnError: false })).status).toBe('Failed')
  })

  it('cancels a running run once: its runner stops it, and waiting raises RUN_CANCELED', async () => {
    const run = await ws
      .experiment('sdk-submit')
      .submit(new ScriptRunConfig({ sourceDirectory: source, command: ['node', 'long.mjs'] }))
    let seen = ''
    for await (const text of run.logs('std_log.txt', { follow: true })) {
      seen += text
      if (seen.includes('still working')) break
    }
    expect(await run.cancel()).toBe(true)
    expect(await run.cancel()).toBe(false)
    await rejectionOf(run.waitForCompletion(), 'RUN_CANCELED')
    expect(run.info.status).toBe('Canceled')
    expect(run.info.cancelRequestedAt).not.toBeNull()
  })

  it('says which file is missing before anything is uploaded', async () => {
    const config = new ScriptRunConfig({ sourceDirectory: source, script: 'nope.py' })
    const error = await rejectionOf(ws.experiment('sdk-submit').submit(config), 'FILE_NOT_FOUND')
    expect(error.message).toMatch(/script "nope.py" is not a file/)
  })
})
