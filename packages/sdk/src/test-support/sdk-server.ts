import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Limits } from '@wharf/contract'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'

/**
 * A real server in this process on a free loopback port, with its own data folder; `filesystemRoots`
 * are the test's own folders it may register folder datastores in; `limits` are the server's own.
 */
export async function startSdkTestServer(
  options: { filesystemRoots?: string[]; limits?: Partial<Limits> } = {},
): Promise<{ server: RunningServer; url: string; dir: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-test-'))
  const config = loadServerConfig({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'server'), version: 'test', ...options })
  const server = await startServer(config, {
    log: createLog({ write: () => undefined }),
    checkResponses: true,
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

/** What a TypeScript program run with tsx did. */
export interface ScriptResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a TypeScript file (and `args`) with tsx as its own Node process, in `cwd`, with `env` added to
 * this process's environment; `onStdout` hears the output as it comes (to act mid-run).
 */
export async function runTsx(options: {
  file: string
  args?: string[]
  cwd: string
  env?: Record<string, string>
  onStdout?: (text: string) => void
}): Promise<ScriptResult> {
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, '--conditions=@wharf/source', options.file, ...(options.args ?? [])],
    {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString()
    options.onStdout?.(stdout)
  })
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { code, stdout, stderr }
}

/**
 * Runs TypeScript source as its own Node process (through tsx), the way a user runs training code:
 * the file sits inside the repo so `import … from '@wharf/sdk'` resolves, and runs in `cwd`.
 * Resolves with the exit code and output.
 */
export async function runScript(options: {
  source: string
  cwd: string
  env: Record<string, string>
  onStdout?: (text: string) => void
}): Promise<ScriptResult> {
  await mkdir(SCRIPTS_DIR, { recursive: true })
  const file = path.join(SCRIPTS_DIR, `train-${process.pid}-${randomUUID().slice(0, 8)}.ts`)
  await writeFile(file, options.source)
  try {
    return await runTsx({ file, cwd: options.cwd, env: options.env, ...(options.onStdout ? { onStdout: options.onStdout } : {}) })
  } finally {
    await rm(file, { force: true })
  }
}

const WHARF_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli', 'src', 'bin.ts')

/** Runs the `wharf` command from its sources, as a user's shell would. */
export function runWharf(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<ScriptResult> {
  return runTsx({ file: WHARF_BIN, args, ...options })
}
