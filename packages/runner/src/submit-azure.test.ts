import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataReferenceConfig } from '@wharf/contract'
import { startS3rver, type S3rverInstance } from '@wharf/datastores/test-support'
import { Datastore, Workspace, type SubmitRequest } from '@wharf/sdk'
import { useAzuriteBlobServer } from '@wharf/server/test-support'
import { isMounted } from './data-references/mount.js'
import { submitRun } from './submit.js'
import { mountSkipReason, readLog, waitForEnd } from './test-support/runs.js'

const MOUNT_SKIP = mountSkipReason('submitted runs with rclone mounts')

const azurite = useAzuriteBlobServer()
let dir: string
let workspace: Workspace
let s3: S3rverInstance

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-submit-azure-'))
  s3 = await startS3rver()
  workspace = Workspace.connect({ url: azurite.server.url, spoolDir: path.join(dir, 'home', 'spool') })
  const inputs = path.join(dir, 'inputs')
  await mkdir(path.join(inputs, 'corpus'), { recursive: true })
  await writeFile(path.join(inputs, 'corpus', 'text.txt'), 'blob text')
  const blob = await Datastore.get(workspace, 'workspaceblobstore')
  expect((await blob.upload({ srcDir: inputs, showProgress: false })).failed).toEqual([])
  await Datastore.registerS3Bucket({
    workspace,
    datastoreName: 'bucket',
    bucket: 'runner-bucket',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    createIfNotExists: true,
  })
})

afterAll(async () => {
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
})

function submit(options: { name: string; script: string; references: DataReferenceConfig[] }): SubmitRequest {
  return {
    experiment: 'azure',
    sourceDirectory: path.join(dir, 'sources', options.name),
    computeTarget: 'local',
    definition: {
      script: options.script,
      command: [options.script, '$AZUREML_DATAREFERENCE_corpus'],
      dataReferences: options.references,
      environmentVariables: {},
      python: null,
      maxRunDurationSeconds: 600,
    },
  }
}

async function writeSource(name: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, 'sources', name, file)), { recursive: true })
    await writeFile(path.join(dir, 'sources', name, file), content)
  }
}

describe.skipIf(MOUNT_SKIP !== undefined)('a submitted run over Azure Blob (Azurite)', () => {
  it('reads a container mounted read-only with rclone, and the mount is gone after the run', async () => {
    await writeSource('mount', {
      'read.py': `import os, sys
corpus = sys.argv[1]
print('mounted text: ' + open(os.path.join(corpus, 'text.txt')).read())
print('mount point: ' + corpus)
try:
    open(os.path.join(corpus, 'new.txt'), 'w').write('x')
    print('wrote into the mount')
except OSError as error:
    print('read-only: ' + type(error).__name__)
`,
    })
    const request = submit({
      name: 'mount',
      script: 'read.py',
      references: [
        {
          name: 'corpus',
          datastore: 'workspaceblobstore',
          pathOnDatastore: 'corpus',
          mode: 'mount',
          pathOnCompute: null,
          overwrite: false,
        },
      ],
    })
    const run = await submitRun(workspace, request)
    const ended = await waitForEnd(workspace.client, run.id)
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(ended.status, `${ended.error?.message ?? ''}\n${std}`).toBe('Completed')
    expect(std).toContain('mounted text: blob text')
    expect(std).toContain('read-only: ')
    expect(std).not.toContain('wrote into the mount')
    const mountPoint = /mount point: (.+)/.exec(std)?.[1] ?? ''
    expect(mountPoint).toBe(path.join(dir, 'home', 'runs', run.id, 'data', 'corpus'))
    expect(await isMounted(mountPoint)).toBe(false)
    // The SAS rclone was given never reached a log.
    const runnerLog = await readLog(workspace.client, run.id, 'runner.txt')
    expect(runnerLog).toContain('mounted corpus')
    expect(`${runnerLog}${std}${await readFile(path.join(dir, 'home', 'runs', run.id, 'runner.log'), 'utf8')}`).not.toContain(
      'sig=',
    )
  })
})

describe.skipIf(MOUNT_SKIP !== undefined)('a mount of a datastore only the server reaches (S3)', () => {
  it('reads an S3 bucket mounted read-only through the server, its keys never on this machine', async () => {
    const bucket = await Datastore.get(workspace, 'bucket')
    const data = path.join(dir, 's3-data')
    await mkdir(path.join(data, 'corpus', 'deep'), { recursive: true })
    await writeFile(path.join(data, 'corpus', 'text.txt'), 'bucket text')
    await writeFile(path.join(data, 'corpus', 'odd name #1 ü.txt'), 'odd')
    await writeFile(path.join(data, 'corpus', 'deep', 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7))
    expect((await bucket.upload({ srcDir: data, showProgress: false })).failed).toEqual([])
    await writeSource('s3', {
      'read.py': `import os, sys
corpus = sys.argv[1]
print('bucket text: ' + open(os.path.join(corpus, 'text.txt')).read())
print('listing: ' + ','.join(sorted(os.listdir(corpus))))
print('odd: ' + open(os.path.join(corpus, 'odd name #1 ü.txt'), encoding='utf-8').read())
data = open(os.path.join(corpus, 'deep', 'big.bin'), 'rb').read()
print('big: %d bytes, all 7: %s' % (len(data), all(b == 7 for b in data)))
`,
    })
    const run = await submitRun(
      workspace,
      submit({
        name: 's3',
        script: 'read.py',
        references: [
          {
            name: 'corpus',
            datastore: 'bucket',
            pathOnDatastore: 'corpus',
            mode: 'mount',
            pathOnCompute: null,
            overwrite: false,
          },
        ],
      }),
    )
    const ended = await waitForEnd(workspace.client, run.id)
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(ended.status, `${ended.error?.message ?? ''}\n${std}\n${await readLog(workspace.client, run.id, 'runner.txt')}`).toBe(
      'Completed',
    )
    expect(std).toContain('bucket text: bucket text')
    expect(std).toContain('listing: deep,odd name #1 ü.txt,text.txt')
    expect(std).toContain('odd: odd')
    expect(std).toContain(`big: ${3 * 1024 * 1024} bytes, all 7: True`)
    expect(await isMounted(path.join(dir, 'home', 'runs', run.id, 'data', 'corpus'))).toBe(false)
  })
})
