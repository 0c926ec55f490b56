import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { WharfClient } from '@wharf/client'
import { isTerminalStatus, type Run } from '@wharf/contract'

/** Polls a run until it ends (or `timeoutMs` passes, which throws with its last status). */
export async function waitForEnd(client: WharfClient, runId: string, timeoutMs = 60_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const run = await client.getRun(runId)
    if (isTerminalStatus(run.status)) return run
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end within ${timeoutMs} ms (status ${run.status})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Reads a live log whole, from its start. */
export async function readLog(client: WharfClient, runId: string, name: string): Promise<string> {
  let text = ''
  let offset = 0
  for (;;) {
    const chunk = await client.call('readRunLog', { params: { runId, log: name }, query: { offset } })
    text += chunk.content
    if (chunk.nextOffset >= chunk.size) return text
    offset = chunk.nextOffset
  }
}

/** Waits until a live log contains `text` (reads with the server's waiting reads). */
export async function waitForLog(
  client: WharfClient,
  options: { runId: string; name: string; text: string; timeoutMs?: number },
): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  for (;;) {
    const content = await readLog(client, options.runId, options.name).catch(() => '')
    if (content.includes(options.text)) return content
    if (Date.now() > deadline)
      throw new Error(`live log ${options.name} of run ${options.runId} never showed "${options.text}": ${content}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Why rclone mounts cannot be tested here (no rclone, no fusermount3 or no /dev/fuse), printed once per
 * test file; undefined when they can.
 */
export function mountSkipReason(what: string): string | undefined {
  const missing = [
    spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0 ? undefined : 'rclone',
    spawnSync('fusermount3', ['-V'], { stdio: 'ignore' }).status === 0 ? undefined : 'fusermount3',
    existsSync('/dev/fuse') ? undefined : '/dev/fuse',
  ].filter((name) => name !== undefined)
  if (missing.length === 0) return undefined
  const reason = `skipped: ${what} needs ${missing.join(', ')} (apt-get install -y rclone fuse3, and a machine with FUSE)`
  process.stdout.write(`${reason}\n`)
  return reason
}
