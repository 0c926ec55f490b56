import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runWharf, spawnWharf } from './test-support/run-cli.js'

/** The URL a `wharf server` child prints once it listens, and what it printed up to then. */
function startedServer(child: ReturnType<typeof spawnWharf>): Promise<{ url: string; stdout: string }> {
  let stdout = ''
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString()
      const match = /running at (http:\/\/\S+)/.exec(stdout)
      if (match?.[1]) resolve({ url: match[1], stdout })
    })
    child.once('exit', (code) => reject(new Error(`exited early with ${code}`)))
  })
}

describe('wharf server', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-cli-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('starts on SQLite in the data folder, prints its URL, serves, and stops cleanly on SIGTERM', async () => {
    const dataDir = path.join(dir, 'data')
    const child = spawnWharf(['server', '--port', '0', '--data-dir', dataDir])
    const { url, stdout } = await startedServer(child)
    expect(stdout).toContain('SQLite at')
    const health = (await (await fetch(`${url}/api/v1/health`)).json()) as { store: string }
    expect(health.store).toBe('sqlite')
    expect((await fetch(url)).headers.get('content-type')).toContain('text/html')
    expect((await stat(path.join(dataDir, 'wharf.db'))).isFile()).toBe(true)
    expect((await stat(path.join(dataDir, 'workspaces/default/datastores/workspaceblobstore'))).isDirectory()).toBe(true)
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
  })

  it('refuses to listen beyond loopback without a token, in one line that says what to do', async () => {
    const result = await runWharf(['server', '--host', '0.0.0.0', '--port', '0', '--data-dir', path.join(dir, 'x')])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('WHARF_AUTH_TOKEN')
    expect(result.stderr).not.toContain('    at ')
  })

  it('refuses a malformed WHARF_BLOBSTORE or WHARF_SECRET_KEY in one line, never echoing the key', async () => {
    const blob = await runWharf(['server', '--port', '0', '--data-dir', path.join(dir, 'y')], {
      env: { WHARF_BLOBSTORE: '{"kind":"azure_blob","accountName":"acct","accountKey":"TOPSECRETVALUE123"}' },
    })
    expect(blob.code).toBe(2)
    expect(blob.stderr).toContain('blobStore')
    expect(blob.stderr).toContain('containerName')
    expect(blob.stderr).not.toContain('TOPSECRETVALUE123')
    expect(blob.stderr.trim().split('\n')).toHaveLength(1)
    const key = await runWharf(['server', '--port', '0', '--data-dir', path.join(dir, 'z')], {
      env: { WHARF_SECRET_KEY: 'c2hvcnQ=' },
    })
    expect(key.code).toBe(2)
    expect(key.stderr).toContain('openssl rand -base64 32')
  })

  it('refuses a port that fetch will not connect to (5061), saying why, instead of starting unreachable', async () => {
    const result = await runWharf(['server', '--port', '5061', '--data-dir', path.join(dir, 'bad-port')])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('bad port')
    expect(result.stderr).toContain('5050')
  })

  it('takes the auth token from --auth-token-file, so it never shows in the process list', async () => {
    const token = 'file-token-0123456789abcdef'
    const file = path.join(dir, 'token')
    await writeFile(file, `${token}\n`, { mode: 0o600 })
    const child = spawnWharf(['server', '--port', '0', '--data-dir', path.join(dir, 'token-data'), '--auth-token-file', file])
    try {
      const { url, stdout } = await startedServer(child)
      expect(stdout).toContain('bearer token required')
      // What `ps` shows: the command line of the server process.
      expect(await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).not.toContain(token)
      expect((await fetch(`${url}/api/v1/workspaces`)).status).toBe(401)
      expect((await fetch(`${url}/api/v1/workspaces`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    } finally {
      const exit = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exit
    }
  })

  it('refuses an unreadable or too short token file (WHARF_AUTH_TOKEN_FILE) in one line, never echoing it', async () => {
    const missing = await runWharf(['server', '--port', '0', '--data-dir', path.join(dir, 't1')], {
      env: { WHARF_AUTH_TOKEN_FILE: path.join(dir, 'no-such-token') },
    })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('ENOENT')
    expect(missing.stderr).toContain('WHARF_AUTH_TOKEN_FILE')
    const short = path.join(dir, 'short-token')
    await writeFile(short, 'tiny-secret\n')
    const tooShort = await runWharf(['server', '--port', '0', '--data-dir', path.join(dir, 't2')], {
      env: { WHARF_AUTH_TOKEN_FILE: short },
    })
    expect(tooShort.code).toBe(2)
    expect(tooShort.stderr).toContain('at least 16')
    expect(tooShort.stderr).not.toContain('tiny-secret')
    expect(tooShort.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('rejects a bad port and prints its version', async () => {
    const bad = await runWharf(['server', '--port', 'eighty'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('is not a port number')
    const version = await runWharf(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
