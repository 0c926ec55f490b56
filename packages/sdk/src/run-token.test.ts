import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'
import { runScript } from './test-support/sdk-server.js'

const AUTH = 'sdk-run-token-test-auth-0123456789'

let dir: string
let server: RunningServer
let admin: WharfClient

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-run-token-'))
  const config = loadServerConfig({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'server'),
    authToken: AUTH,
    version: 'test',
  })
  server = await startServer(config, { log: createLog({ write: () => undefined }), checkResponses: true })
  admin = new WharfClient({ url: server.url, token: AUTH })
})
afterAll(async () => {
  await server?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('the SDK inside a submitted run, holding only its run token', () => {
  it('gets its run and logs metrics with WHARF_RUN_TOKEN, and is refused the rest of the workspace', async () => {
    const submitted = await admin.createRun({ experiment: 'token-run', status: 'Running' })
    const { token } = await admin.call('mintRunToken', { params: { runId: submitted.id }, body: {} })
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: {
          WHARF_TRACKING_URI: server.url,
          WHARF_RUN_ID: submitted.id,
          WHARF_RUN_TOKEN: token,
          WHARF_AUTH_TOKEN: '',
          WHARF_HOME: path.join(cwd, 'home'),
        },
        source: `
import { Run, Workspace, getLogger } from '@wharf/sdk'
const workspace = await Workspace.fromConfig()
const run = await Run.get(workspace, process.env.WHARF_RUN_ID!)
console.log('run', run.id, await run.getStatus())
const logger = getLogger()
for (let i = 0; i < 50; i++) logger.log('loss', 1 / (i + 1))
await logger.log('acc', 0.9).wait()
await run.log('direct', 7).wait()
await run.tag('phase', 'train')
await run.uploadContent('outputs/note.txt', 'done')
try {
  await workspace.client.listRuns({}).toArray()
  console.log('listRuns allowed')
} catch (error) {
  console.log('listRuns', (error as { code: string }).code)
}
`,
      })
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`run ${submitted.id} Running`)
      expect(result.stdout).toContain('listRuns FORBIDDEN')
      const metrics = new Map((await admin.listMetrics(submitted.id)).map((m) => [m.name, m.count]))
      expect(Object.fromEntries(metrics)).toEqual({ loss: 50, acc: 1, direct: 1 })
      expect((await admin.getRun(submitted.id)).tags).toEqual({ phase: 'train' })
      expect((await admin.listArtifacts(submitted.id).toArray()).map((a) => a.path)).toEqual(['outputs/note.txt'])
      // The runner owns the lifecycle: the script left the status as it was.
      expect((await admin.getRun(submitted.id)).status).toBe('Running')
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })
})
