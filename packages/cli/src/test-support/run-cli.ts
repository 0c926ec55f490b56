import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin.ts')
// tsx's loader by absolute path: `--import tsx` would be resolved from the working folder, which a
// test may set to a project folder outside the repo.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Spawns the real `wharf` binary from its sources (through tsx), as a user's shell would. */
export function spawnWharf(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', TSX_LOADER, '--conditions=@wharf/source', BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Runs `wharf` to completion and returns its exit code and output. */
export function runWharf(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnWharf(args, options)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
}

/** Runs `wharf` and keeps stdout as bytes (for artifacts written to a pipe). */
export function runWharfBytes(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawnWharf(args, options)
  const chunks: Buffer[] = []
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => chunks.push(c))
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr })))
}

/**
 * Runs `wharf` with stdout on a pseudo-terminal, through util-linux `script`, as an interactive shell
 * would; undefined when `script` is not installed.
 */
export async function runWharfOnTerminal(
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<{ code: number | null; output: string } | undefined> {
  const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, '--import', TSX_LOADER, '--conditions=@wharf/source', BIN, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
  return new Promise((resolve) => {
    child.once('error', () => resolve(undefined))
    child.once('close', (code) => resolve({ code, output }))
  })
}
