import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Workspace } from '@wharf/sdk'
import { startServerProcess, type ServerProcess } from '@wharf/server/test-support'
import { submitRun } from './submit.js'
import { readLog, waitForEnd, waitForLog } from './test-support/runs.js'

let dir: string
let server: ServerProcess | undefined

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-runner-outage-'))
})
afterAll(async () => {
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('a server restart while a submitted run goes on', () => {
  it('loses nothing: the heartbeat, the live log, the outputs and the final status carry on once the server is back', async () => {
    const dataDir = path.join(dir, 'server')
    server = await startServerProcess({ dataDir })
    const port = server.port
    const workspace = Workspace.connect({ url: server.url, spoolDir: path.join(dir, 'home', 'spool') })
    const source = path.join(dir, 'source')
    await mkdir(source, { recursive: true })
    await writeFile(
      path.join(source, 'steady.mjs'),
      `import { writeFileSync } from 'node:fs'
console.log('before')
let i = 0
const timer = setInterval(() => {
  console.log('tick ' + i)
  if (++i === 40) { clearInterval(timer); writeFileSync('outputs/done.txt', 'done'); console.log('after') }
}, 100)
`,
    )
    const run = await submitRun(workspace, {
      experiment: 'outage',
      sourceDirectory: source,
      computeTarget: 'local',
      definition: {
        script: 'steady.mjs',
        command: ['steady.mjs'],
        dataReferences: [],
        environmentVariables: {},
        python: null,
        maxRunDurationSeconds: 600,
      },
    })
    await waitForLog(workspace.client, { runId: run.id, name: 'std_log.txt', text: 'tick 3' })
    await server.kill()
    // Down past the script's end: the runner finishes the run (the rest of the log, outputs, the final
    // status) against a server that is not there, and carries it out once the server is back.
    await new Promise((resolve) => setTimeout(resolve, 6000))
    server = await startServerProcess({ dataDir, port })
    const ended = await waitForEnd(workspace.client, run.id, 60_000)
    expect(ended.status, ended.error?.message).toBe('Completed')
    const std = await readLog(workspace.client, run.id, 'std_log.txt')
    expect(std).toBe(['before', ...Array.from({ length: 40 }, (_, i) => `tick ${i}`), 'after', ''].join('\n'))
    expect(await (await workspace.client.downloadArtifact(run.id, 'outputs/done.txt')).text()).toBe('done')
  })
})
