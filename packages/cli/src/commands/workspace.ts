import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { WharfError } from '@wharf/contract'
import { Workspace } from '@wharf/sdk'

interface InitFlags {
  url: string
  workspace: string
  token?: string
  dir: string
  force?: boolean
  check: boolean
}

/** `wharf workspace …`: write the config that the SDK and the CLI find. */
export function registerWorkspaceCommands(program: Command): void {
  const workspace = program.command('workspace').description('workspace settings')
  workspace
    .command('init')
    .description('write .wharf/config.json so the SDK and the CLI find your server and workspace')
    .option('--url <url>', 'server URL', 'http://127.0.0.1:5050')
    .option('--workspace <name>', 'workspace name', 'default')
    .option('--token <token>', 'bearer token, when the server requires one (the file is then readable only by you)')
    .option('--dir <dir>', 'folder to write .wharf/config.json in', '.')
    .option('--force', 'replace an existing config')
    .option('--no-check', 'do not check that the server answers and has the workspace')
    .addHelpText('after', '\nExamples:\n  wharf workspace init\n  wharf workspace init --url https://wharf.example.com --workspace team-a --token "$TOKEN"')
    .action(async (flags: InitFlags) => {
      const file = path.resolve(flags.dir, '.wharf', 'config.json')
      if (!flags.force) {
        const existing = await readFile(file, 'utf8').catch(() => undefined)
        if (existing !== undefined) {
          throw new WharfError('WORKSPACE_EXISTS', `${file} exists already; pass --force to replace it`)
        }
      }
      if (flags.check) {
        const ws = Workspace.connect({ url: flags.url, workspace: flags.workspace, ...(flags.token ? { token: flags.token } : {}) })
        await ws.getDetails() // SERVER_UNREACHABLE, UNAUTHENTICATED or WORKSPACE_NOT_FOUND say what is wrong
      }
      await mkdir(path.dirname(file), { recursive: true })
      const config = { url: flags.url.replace(/\/+$/, ''), workspace: flags.workspace, ...(flags.token ? { token: flags.token } : {}) }
      await writeFile(file, JSON.stringify(config, null, 2) + '\n', { mode: flags.token ? 0o600 : 0o644 })
      if (flags.token) await chmod(file, 0o600)
      process.stdout.write(`wrote ${file} (server ${config.url}, workspace ${config.workspace})\n`)
    })
}
