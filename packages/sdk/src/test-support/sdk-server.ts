import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'

/**
 * A real server in this process on a free loopback port, with its own data folder; `filesystemRoots`
 * are the test's own folders it may register folder datastores in.
 */
export async function startSdkTestServer(
  options: { filesystemRoots?: string[] } = {},
): Promise<{ server: RunningServer; url: string; dir: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-test-'))
  const config = loadServerConfig({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'server'), version: 'test', ...options })
  const server = await startServer(config, {
    log: createLog({ write: () => undefined }),
  })
  return {
    server,
    url: server.url,
    dir,
    async stop() {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

// tsx's loader by absolute path: `--import tsx` would be resolved from the script's working folder.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const SCRIPTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.test-scripts')

/**
 * Runs TypeScript source as its own Node process (through tsx), the way a user runs training code:
 * the file sits inside the repo so `import … from '@wharf/sdk'` resolves, and runs in `cwd`.
 * Resolves with the exit code and output.
 */
export async function runScript(options: {
  source: string
  cwd: string
  env: Record<string, string>
}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  await mkdir(SCRIPTS_DIR, { recursive: true })
  const file = path.join(SCRIPTS_DIR, `train-${process.pid}-${randomUUID().slice(0, 8)}.ts`)
  await writeFile(file, options.source)
  const child = spawn(process.execPath, ['--import', TSX_LOADER, '--conditions=@wharf/source', file], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  await rm(file, { force: true })
  return { code, stdout, stderr }
}
