import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')
const BIN = path.join(REPO_ROOT, 'packages/cli/src/bin.ts')

/** `wharf server` in a child process: its own core, and a real process a test can stop or kill. */
export interface ServerProcess {
  url: string
  port: number
  /** Graceful stop (SIGTERM): requests in flight finish. */
  stop(): Promise<void>
  /** SIGKILL, the way a crash ends it: requests in flight are cut. */
  kill(): Promise<void>
  /** Everything the server wrote to stderr so far (its log). */
  stderr(): string
  /** False once the process has exited, by itself or stopped. */
  isRunning(): boolean
}

/** Starts `wharf server` from the sources over `dataDir` (on `port`, or a free one) and waits for its URL. */
export async function startServerProcess(options: {
  dataDir: string
  port?: number
  env?: Record<string, string>
}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@wharf/source', BIN, 'server', '--port', String(options.port ?? 0), '--data-dir', options.dataDir],
    { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /running at (http:\/\/\S+)/.exec(stdout)
      if (match?.[1]) resolve(match[1])
    })
    void exited.then(() => reject(new Error(`wharf server exited before it was ready: ${stderr}`)))
  })
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return {
    url,
    port: Number(new URL(url).port),
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    stderr: () => stderr,
    isRunning: () => child.exitCode === null && child.signalCode === null,
  }
}
