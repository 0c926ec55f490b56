import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { WharfError } from '@wharf/contract'
import { Workspace } from '@wharf/sdk'
import { printResult, withConnectionOptions, withOutputOptions, type OutputFlags } from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import { renderPairs, renderTable } from '../output/table.js'
import { paint } from '../output/terminal.js'
import { formatTime } from '../output/values.js'

interface InitFlags {
  url: string
  workspace: string
  token?: string
  dir: string
  force?: boolean
  check: boolean
}

/** `wharf workspace …`: write the config that the SDK and the CLI find, and show the workspace. */
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

  withOutputOptions(withConnectionOptions(workspace.command('show')))
    .description('the workspace the CLI talks to: server, version, datastores')
    .addHelpText('after', '\nExamples:\n  wharf workspace show\n  wharf workspace show --workspace team-a -o json')
    .action(async (flags: ConnectionFlags & OutputFlags) => {
      const ws = await connect(flags)
      const [details, health, datastores] = await Promise.all([ws.getDetails(), ws.client.health(), ws.client.listDatastores()])
      const json = {
        name: details.name,
        url: ws.url,
        serverVersion: health.version,
        store: health.store,
        defaultDatastore: details.defaultDatastore,
        artifactDatastore: details.artifactDatastore,
        createdAt: details.createdAt,
        datastores: datastores.map((d) => ({ name: d.name, kind: d.kind, authType: d.authType, isDefault: d.isDefault })),
      }
      printResult(
        {
          json,
          table: (terminal) =>
            renderPairs(
              [
                ['Workspace', json.name],
                ['Server', `${json.url} (Wharf ${json.serverVersion}, ${json.store})`],
                ['Default datastore', json.defaultDatastore],
                ['Artifacts in', json.artifactDatastore],
                ['Created', formatTime(json.createdAt)],
              ],
              terminal,
            ) +
            `\n${paint('Datastores', { style: 'bold', color: terminal.color })}\n` +
            renderTable({ headers: ['Name', 'Kind', 'Auth', 'Default'], rows: json.datastores.map((d) => [d.name, d.kind, d.authType, d.isDefault ? 'yes' : '']) }, terminal),
        },
        flags,
      )
    })
}
