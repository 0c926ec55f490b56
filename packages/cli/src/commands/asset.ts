import path from 'node:path'
import type { Command } from 'commander'
import type { AssetVersion } from '@wharf/contract'
import { formatBytes } from '@wharf/sdk'
import { commandGroup, parseAssetRef, printResult, serverCommand, type OutputFlags } from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import type { ResultView } from '../output/format.js'
import { renderPairs, renderTable } from '../output/table.js'
import { paint } from '../output/terminal.js'
import { formatTime } from '../output/values.js'
import { downloadAll } from '../transfer/download.js'

type CommonFlags = ConnectionFlags & OutputFlags

/** An asset version for printing: its JSON as the server sends it, and a summary plus file table. */
export function assetVersionView(version: AssetVersion): ResultView {
  return {
    json: version,
    table: (terminal) => {
      const pairs: [string, string][] = [
        ['Asset', `${version.name}:${version.version}`],
        ['Source', `run ${version.sourceRunId}, ${version.artifactPath}${version.copied ? ' (copied)' : ''}`],
        ['Files', `${version.fileCount} (${formatBytes(version.size)})`],
        ['Created', formatTime(version.createdAt)],
      ]
      if (version.description) pairs.push(['Description', version.description])
      const tags = Object.entries(version.tags)
      if (tags.length > 0) pairs.push(['Tags', tags.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(', ')])
      const files =
        version.files.length === 0
          ? ''
          : `\n${paint('Files', { style: 'bold', color: terminal.color })}\n` +
            renderTable(
              { headers: ['Path', 'Size', 'sha256'], rows: version.files.map((f) => [f.path, formatBytes(f.size), f.sha256]) },
              terminal,
            )
      return renderPairs(pairs, terminal) + files
    },
  }
}

/** `wharf asset …`: list, show and download versioned assets promoted from runs. */
export function registerAssetCommands(program: Command): void {
  const asset = commandGroup(program, {
    name: 'asset',
    description: 'versioned assets (models, datasets…) promoted from run artifacts with wharf history promote',
    examples: ['wharf asset list', 'wharf asset show mnist-model:2', 'wharf asset download mnist-model -d ./model'],
  })

  serverCommand(asset, 'list')
    .description('assets by name, with their latest version')
    .addHelpText('after', '\nExample:\n  wharf asset list -o tsv --query "[].name"')
    .action(async (flags: CommonFlags) => {
      const { client } = await connect(flags)
      const assets = await client.listAssets().toArray()
      printResult(
        {
          json: assets,
          table: {
            headers: ['Name', 'Latest', 'Versions', 'Updated (UTC)', 'Description'],
            rows: assets.map((a) => [
              a.name,
              String(a.latestVersion),
              String(a.versionCount),
              formatTime(a.updatedAt),
              a.description,
            ]),
          },
        },
        flags,
      )
    })

  serverCommand(asset, 'show')
    .description(
      'one version of an asset (the latest unless name:version): where it came from and its files with size and sha256',
    )
    .argument('<name[:version]>', 'asset name, optionally with :version (1, 2, … or latest)')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf asset show mnist-model\n  wharf asset show mnist-model:1 -o json --query "files[].sha256"',
    )
    .action(async (ref: string, flags: CommonFlags) => {
      const { name, version } = parseAssetRef(ref)
      const { client } = await connect(flags)
      printResult(assetVersionView(await client.getAssetVersion(name, version)), flags)
    })

  serverCommand(asset, 'download')
    .description('download the files of an asset version into a folder, sha256 verified, with a progress bar on a terminal')
    .argument('<name[:version]>', 'asset name, optionally with :version (the latest otherwise)')
    .requiredOption('-d, --dir <dir>', 'folder to download into')
    .option('--overwrite', 'replace files that exist with different content (identical ones are always left alone)')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf asset download mnist-model -d ./model\n  wharf asset download mnist-model:1 -d ./model-v1 --overwrite',
    )
    .action(async (ref: string, flags: CommonFlags & { dir: string; overwrite?: boolean }) => {
      const { name, version: wanted } = parseAssetRef(ref)
      const { client } = await connect(flags)
      const version = await client.getAssetVersion(name, wanted)
      const outcomes = await downloadAll(
        version.files.map((file) => ({
          ...file,
          fetch: (call) => client.downloadAssetFile({ name: version.name, version: version.version, path: file.path }, call),
        })),
        { dir: flags.dir, overwrite: flags.overwrite === true },
      )
      const directory = path.resolve(flags.dir)
      printResult(
        {
          json: { name: version.name, version: version.version, directory, files: outcomes },
          table: (terminal) =>
            renderTable(
              { headers: ['Path', 'Size', 'Result'], rows: outcomes.map((o) => [o.path, formatBytes(o.size), o.result]) },
              terminal,
            ) +
            `asset ${version.name}:${version.version} is in ${directory} (${outcomes.length} file${outcomes.length === 1 ? '' : 's'}, sha256 verified)\n`,
        },
        flags,
      )
    })
}
