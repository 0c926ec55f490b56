import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'
import { runWharf } from './test-support/run-cli.js'

const TOKEN = 'cli-token-test-0123456789'
let server: RunningServer
let dir: string
/** No URL, workspace or token from the environment the tests run in. */
let bare: Record<string, string>

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-cli-token-'))
  server = await startServer(
    loadServerConfig({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'server'), authToken: TOKEN }),
    {
      log: createLog({ write: () => undefined }),
      checkResponses: true,
    },
  )
  bare = {
    WHARF_TRACKING_URI: '',
    WHARF_WORKSPACE: '',
    WHARF_AUTH_TOKEN: '',
    WHARF_RUN_TOKEN: '',
    WHARF_HOME: path.join(dir, 'home'),
  }
})
afterAll(async () => {
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('a server that requires a token', () => {
  it('refuses the CLI without one, with exit code 4 and a message that names the way in', async () => {
    const result = await runWharf(['history', 'list', '--url', server.url, '-o', 'json'], { env: bare })
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('[UNAUTHENTICATED]')
    expect(result.stderr).toContain('WHARF_AUTH_TOKEN')
    expect(result.stderr).toContain('--token <token>')
  })

  it('takes --token before or after the command', async () => {
    for (const args of [
      ['--token', TOKEN, 'history', 'list', '--url', server.url, '-o', 'json'],
      ['history', 'list', '--url', server.url, '-o', 'json', '--token', TOKEN],
    ]) {
      const result = await runWharf(args, { env: bare })
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' })
      expect(JSON.parse(result.stdout)).toEqual([])
    }
  })

  it('takes WHARF_AUTH_TOKEN, and --token wins over it', async () => {
    const fromEnv = await runWharf(['experiment', 'list', '--url', server.url, '-o', 'json'], {
      env: { ...bare, WHARF_AUTH_TOKEN: TOKEN },
    })
    expect(fromEnv.code).toBe(0)
    const wrong = 'not-the-token-0123456789'
    const overridden = await runWharf(['experiment', 'list', '--url', server.url, '--token', wrong], {
      env: { ...bare, WHARF_AUTH_TOKEN: TOKEN },
    })
    expect(overridden.code).toBe(4)
    expect(overridden.stderr + overridden.stdout).not.toContain(wrong)
  })

  it('workspace init --token checks with it, stores it in a 0600 file without printing it, and later commands use it', async () => {
    const project = path.join(dir, 'project')
    const init = await runWharf(['workspace', 'init', '--url', server.url, '--dir', project, '--token', TOKEN], { env: bare })
    expect({ code: init.code, stderr: init.stderr }).toEqual({ code: 0, stderr: '' })
    expect(init.stdout).not.toContain(TOKEN)
    const file = path.join(project, '.wharf', 'config.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: server.url, workspace: 'default', token: TOKEN })
    const list = await runWharf(['history', 'list', '-o', 'json'], { env: bare, cwd: project })
    expect({ code: list.code, stderr: list.stderr }).toEqual({ code: 0, stderr: '' })
  })

  it('workspace init --force --token over a readable file leaves it readable only by the owner', async () => {
    const project = path.join(dir, 'replaced')
    const file = path.join(project, '.wharf', 'config.json')
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, JSON.stringify({ url: server.url }), { mode: 0o644 })
    const init = await runWharf(['workspace', 'init', '--url', server.url, '--dir', project, '--force', '--token', TOKEN], {
      env: bare,
    })
    expect(init.code).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('workspace init checks with WHARF_AUTH_TOKEN and takes the URL from WHARF_TRACKING_URI, writing neither token nor 0600', async () => {
    const project = path.join(dir, 'from-env')
    const init = await runWharf(['workspace', 'init', '--dir', project], {
      env: { ...bare, WHARF_TRACKING_URI: server.url, WHARF_AUTH_TOKEN: TOKEN },
    })
    expect({ code: init.code, stderr: init.stderr }).toEqual({ code: 0, stderr: '' })
    const file = path.join(project, '.wharf', 'config.json')
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: server.url, workspace: 'default' })
  })

  it('wharf server refuses --token and points to --auth-token', async () => {
    const result = await runWharf(['server', '--port', '0', '--data-dir', path.join(dir, 'unused'), '--token', TOKEN], {
      env: bare,
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--auth-token')
    expect(result.stderr).not.toContain(TOKEN)
  })
})
