import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { WharfError } from '@wharf/contract'
import { readEnvironment, Workspace } from '@wharf/sdk'
import { printResult, serverCommand, type OutputFlags } from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import { renderPairs, renderTable } from '../output/table.js'
import { paint } from '../output/terminal.js'
import { formatTime } from '../output/values.js'

/** Where `workspace init` points when neither --url nor WHARF_TRACKING_URI says: `npm start`'s server. */
const DEFAULT_URL = 'http://127.0.0.1:5050'

interface InitFlags {
  url?: string
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
    .description(
      'write .wharf/config.json so the SDK and the CLI find your server and workspace; with --token the token is kept there too, in a file only you can read',
    )
    .option('--url <url>', `server URL (default: WHARF_TRACKING_URI, else ${DEFAULT_URL})`)
    .option('--workspace <name>', 'workspace name', 'default')
    .option('--dir <dir>', 'folder to write .wharf/config.json in', '.')
    .option('--force', 'replace an existing config')
    .option('--no-check', 'do not check that the server answers and has the workspace')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf workspace init\n  wharf workspace init --url https://wharf.example.com --workspace team-a --token "$TOKEN"',
    )
    .action(async (flags: InitFlags) => {
      const env = readEnvironment()
      const url = (flags.url ?? env.trackingUri ?? DEFAULT_URL).replace(/\/+$/, '')
      const file = path.resolve(flags.dir, '.wharf', 'config.json')
      if (!flags.force) {
        const existing = await readFile(file, 'utf8').catch(() => undefined)
        if (existing !== undefined) {
          throw new WharfError('WORKSPACE_EXISTS', `${file} exists already; pass --force to replace it`)
        }
      }
      if (flags.check) {
        // A token only in WHARF_AUTH_TOKEN still lets the check through; it is not written to the file.
        const token = flags.token ?? env.token
        const ws = Workspace.connect({ url, workspace: flags.workspace, ...(token !== undefined ? { token } : {}) })
        await ws.getDetails() // SERVER_UNREACHABLE, UNAUTHENTICATED or WORKSPACE_NOT_FOUND say what is wrong
      }
      await mkdir(path.dirname(file), { recursive: true })
      const config = { url, workspace: flags.workspace, ...(flags.token !== undefined ? { token: flags.token } : {}) }
      // Written to a new file created 0600 and renamed over the old one: a token is never readable by
      // others, not even for a moment when --force replaces a 0644 file.
      const temp = `${file}.${process.pid}.tmp`
      await writeFile(temp, JSON.stringify(config, null, 2) + '\n', {
        mode: flags.token !== undefined ? 0o600 : 0o644,
        flag: 'wx',
      })
      await rename(temp, file)
      process.stdout.write(
        `wrote ${file} (server ${config.url}, workspace ${config.workspace}${flags.token !== undefined ? ', token; readable only by you' : ''})\n`,
      )
    })

  serverCommand(workspace, 'show')
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
            renderTable(
              {
                headers: ['Name', 'Kind', 'Auth', 'Default'],
                rows: json.datastores.map((d) => [d.name, d.kind, d.authType, d.isDefault ? 'yes' : '']),
              },
              terminal,
            ),
        },
        flags,
      )
    })
}
