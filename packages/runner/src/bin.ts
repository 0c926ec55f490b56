#!/usr/bin/env node
// The runner of one submitted run: started by a compute target with WHARF_TRACKING_URI, WHARF_WORKSPACE,
// WHARF_RUN_ID and WHARF_RUN_TOKEN (and WHARF_HOME), it supervises the run to its end.
import os from 'node:os'
import path from 'node:path'
import { WharfClient } from '@wharf/client'

const env = process.env
const missing = ['WHARF_TRACKING_URI', 'WHARF_RUN_ID', 'WHARF_RUN_TOKEN'].filter((name) => !env[name])
if (missing.length > 0) {
  console.error(`wharf runner: ${missing.join(', ')} not set; the runner is started by \`wharf run submit\`, not by hand`)
  process.exit(2)
}
const wharfHome = env.WHARF_HOME || path.join(os.homedir(), '.wharf')
const url = env.WHARF_TRACKING_URI as string
const workspaceName = env.WHARF_WORKSPACE || 'default'
const token = env.WHARF_RUN_TOKEN as string
const runId = env.WHARF_RUN_ID as string
// SIGTERM or SIGINT to the runner is a cancel: the script is stopped and the run ends Canceled.
const controller = new AbortController()
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => controller.abort())
process.on('SIGHUP', () => undefined)
const say = (line: string): void => console.log(`${new Date().toISOString()} ${line}`)
say(`runner ${process.pid} for run ${runId} (${url}, workspace ${workspaceName})`)
try {
  // Loaded here, so that even a runner whose modules fail to load can still end its run (below).
  const [{ Workspace }, { superviseRun }] = await Promise.all([import('@wharf/sdk'), import('./process/supervise.js')])
  const workspace = Workspace.connect({ url, workspace: workspaceName, token, spoolDir: path.join(wharfHome, 'spool') })
  const { WHARF_RUN_TOKEN: _token, WHARF_LOCAL_SOURCE: localSource, ...scriptEnv } = env
  const run = await superviseRun({
    workspace,
    runId,
    token,
    wharfHome,
    env: scriptEnv,
    keepWorkingFolder: env.WHARF_KEEP_WORKING_FOLDER === '1',
    ...(localSource ? { localSource } : {}),
    onMessage: say,
    signal: controller.signal,
  })
  say(`run ${runId} ended ${run.status}`)
  process.exitCode = run.status === 'Completed' ? 0 : 1
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  console.error(`wharf runner: ${error instanceof Error ? (error.stack ?? message) : message}`)
  // A run left live by a runner that could not supervise it would wait for nothing: end it Failed.
  await new WharfClient({ url, workspace: workspaceName, token })
    .setRunStatus(runId, 'Failed', { error: { code: 'RUNNER_FAILED', message: `the runner stopped: ${message}` } })
    .catch(() => undefined)
  process.exitCode = 1
}
