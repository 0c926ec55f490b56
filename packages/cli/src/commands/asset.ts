import path from 'node:path'
import type { Command } from 'commander'
import {
  NAME_RULES,
  WharfError,
  assertName,
  printable,
  type AssetAlias,
  type AssetVersion,
  type UpdateAssetVersionRequest,
} from '@wharf/contract'
import { formatBytes } from '@wharf/sdk'
import {
  collect,
  commandGroup,
  parseAssetRef,
  parseTagPairs,
  parseVersionNumber,
  printResult,
  printsOwnTable,
  serverCommand,
  type OutputFlags,
} from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import type { ResultView } from '../output/format.js'
import { renderPairs, renderTable } from '../output/table.js'
import { paint } from '../output/terminal.js'
import { formatTime } from '../output/values.js'
import { downloadAll } from '../transfer/download.js'

type CommonFlags = ConnectionFlags & OutputFlags

interface UpdateFlags extends CommonFlags {
  description?: string
  tag?: string[]
  removeTag?: string[]
}

/**
 * An asset version for printing: its JSON as the server sends it, and a summary plus file table; the
 * `aliases` given (those of the asset) that point at this version are listed in the summary.
 */
export function assetVersionView(version: AssetVersion, aliases: readonly AssetAlias[] = []): ResultView {
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
      const pointing = aliases.filter((a) => a.version === version.version).map((a) => a.alias)
      if (pointing.length > 0) pairs.push(['Aliases', pointing.join(', ')])
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

/**
 * The change `wharf asset update` asks for, or INVALID_ARGUMENT naming the flags when there is none (checked
 * before any request: an empty change would only read the version).
 */
function assetVersionChange(flags: UpdateFlags): UpdateAssetVersionRequest {
  const set = parseTagPairs(flags.tag)
  const remove = flags.removeTag ?? []
  if (flags.description === undefined && Object.keys(set).length === 0 && remove.length === 0) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'nothing to update; give --description <text>, --tag key=value or --remove-tag key (the tag flags are repeatable)',
      { details: { flags: ['--description', '--tag', '--remove-tag'] } },
    )
  }
  for (const key of remove) {
    if (key.trim() === '')
      throw new WharfError('INVALID_ARGUMENT', '--remove-tag has an empty key; write --remove-tag key', {
        details: { flag: '--remove-tag' },
      })
  }
  const tags = {
    ...(Object.keys(set).length > 0 ? { set } : {}),
    ...(remove.length > 0 ? { remove } : {}),
  }
  return {
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
  }
}

/** `wharf asset …`: list, show, update and download versioned assets promoted from runs. */
export function registerAssetCommands(program: Command): void {
  const asset = commandGroup(program, {
    name: 'asset',
    description: 'versioned assets (models, datasets…) promoted from run artifacts with wharf history promote',
    examples: [
      'wharf asset list',
      'wharf asset show mnist-model:2',
      'wharf asset update mnist-model@champion --tag stage=approved --remove-tag owner',
      'wharf asset alias set mnist-model champion 2',
      'wharf asset download mnist-model@champion -d ./model',
    ],
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
      'one version of an asset (the latest unless name:version or name@alias): where it came from, its aliases, and its files with size and sha256',
    )
    .argument('<name[:version]|name@alias>', 'asset name, optionally with :version (1, 2, … or latest) or @alias')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf asset show mnist-model\n  wharf asset show mnist-model@champion\n  wharf asset show mnist-model:1 -o json --query "files[].sha256"',
    )
    .action(async (ref: string, flags: CommonFlags) => {
      const { name, version: wanted } = parseAssetRef(ref)
      const { client } = await connect(flags)
      const version = await client.getAssetVersion(name, wanted)
      // The aliases show only in the table; the JSON stays the server's AssetVersion. They are extra:
      // a server that cannot list them (an older one) still shows the version.
      const aliases = printsOwnTable(flags) ? await client.listAssetAliases(name).catch(() => []) : []
      printResult(assetVersionView(version, aliases), flags)
    })

  serverCommand(asset, 'update')
    .description(
      "edit a version's description and tags (the latest unless name:version or name@alias); its files never change. Tags are set, then removed",
    )
    .argument('<name[:version]|name@alias>', 'asset name, optionally with :version (1, 2, … or latest) or @alias')
    .option('--description <text>', 'new description of the version')
    .option('--tag <key=value>', 'set this tag, adding or replacing it; other tags stay (repeatable)', collect)
    .option('--remove-tag <key>', 'remove this tag; a key the version does not have is ignored (repeatable)', collect)
    .addHelpText(
      'after',
      '\nExamples:\n  wharf asset update mnist-model:3 --description "retrained on the full set"\n  wharf asset update mnist-model@champion --tag stage=approved --remove-tag owner',
    )
    .action(async (ref: string, flags: UpdateFlags) => {
      const { name, version: wanted } = parseAssetRef(ref)
      const change = assetVersionChange(flags)
      const { client } = await connect(flags)
      const version = await client.updateAssetVersion({ name, version: wanted }, change)
      const aliases = printsOwnTable(flags) ? await client.listAssetAliases(name).catch(() => []) : []
      printResult(assetVersionView(version, aliases), flags)
    })

  serverCommand(asset, 'download')
    .description('download the files of an asset version into a folder, sha256 verified, with a progress bar on a terminal')
    .argument('<name[:version]|name@alias>', 'asset name, optionally with :version or @alias (the latest otherwise)')
    .requiredOption('-d, --dir <dir>', 'folder to download into')
    .option('--overwrite', 'replace files that exist with different content (identical ones are always left alone)')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf asset download mnist-model -d ./model\n  wharf asset download mnist-model@champion -d ./model\n  wharf asset download mnist-model:1 -d ./model-v1 --overwrite',
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
  registerAliasCommands(asset)
}

/** The version argument of `alias set`: a version number, or INVALID_ARGUMENT saying so. */
function aliasTargetVersion(raw: string, asset: string): number {
  const version = parseVersionNumber(raw)
  if (version !== undefined) return version
  throw new WharfError(
    'INVALID_ARGUMENT',
    `version "${printable(raw)}" is not a version number; use 1, 2, … (wharf asset show ${printable(asset)} shows the latest)`,
    { details: { field: 'version', value: printable(raw) } },
  )
}

/** `wharf asset alias …`: names such as champion that point at one version of an asset. */
function registerAliasCommands(asset: Command): void {
  const alias = commandGroup(asset, {
    name: 'alias',
    description: 'aliases: names such as champion that point at one version of an asset (name@alias in show and download)',
    examples: [
      'wharf asset alias set mnist-model champion 3',
      'wharf asset alias list mnist-model',
      'wharf asset alias delete mnist-model champion',
    ],
  })

  serverCommand(alias, 'set')
    .description('point an alias at a version of the asset: made when new, moved when it pointed at another version')
    .argument('<name>', 'asset name')
    .argument('<alias>', 'alias name, e.g. champion (letters, digits, "_" or "-"; not latest, a number or v<number>)')
    .argument('<version>', 'version number (1, 2, …)')
    .addHelpText('after', '\nExample:\n  wharf asset alias set mnist-model champion 3')
    // Commander hands each argument, then the flags, as its own parameter: one tuple keeps max-params.
    .action(async (...[name, aliasName, rawVersion, flags]: [string, string, string, CommonFlags]) => {
      assertName(aliasName, NAME_RULES.assetAlias)
      const version = aliasTargetVersion(rawVersion, name)
      const { client } = await connect(flags)
      // Read first, only to say where the alias was moved from: not reading it changes only the wording.
      const before = (await client.listAssetAliases(name).catch(() => [])).find((a) => a.alias === aliasName)
      const after = await client.setAssetAlias({ name, alias: aliasName, version })
      const now = `alias ${after.alias} of ${after.name} now points at version ${after.version}`
      const moved =
        before === undefined
          ? ''
          : before.version === after.version
            ? ' (it already did)'
            : ` (moved from version ${before.version})`
      printResult({ json: { ...after, previousVersion: before?.version ?? null }, table: () => `${now}${moved}\n` }, flags)
    })

  serverCommand(alias, 'delete')
    .description('remove an alias; the version it pointed at stays')
    .argument('<name>', 'asset name')
    .argument('<alias>', 'alias name')
    .addHelpText('after', '\nExample:\n  wharf asset alias delete mnist-model champion')
    .action(async (name: string, aliasName: string, flags: CommonFlags) => {
      assertName(aliasName, NAME_RULES.assetAlias)
      const { client } = await connect(flags)
      const result = await client.deleteAssetAlias({ name, alias: aliasName })
      const message = result.deleted
        ? `deleted alias ${result.alias} of ${result.name}`
        : `${result.name} has no alias ${result.alias}; nothing was deleted`
      printResult({ json: result, table: () => `${message}\n` }, flags)
    })

  serverCommand(alias, 'list')
    .description('the aliases of an asset, each with the version it points at')
    .argument('<name>', 'asset name')
    .addHelpText('after', '\nExample:\n  wharf asset alias list mnist-model -o tsv --query "[].[alias, version]"')
    .action(async (name: string, flags: CommonFlags) => {
      const { client } = await connect(flags)
      const aliases = await client.listAssetAliases(name)
      printResult(
        {
          json: aliases,
          table: (terminal) =>
            aliases.length === 0
              ? `${name} has no aliases; wharf asset alias set ${name} <alias> <version> makes one\n`
              : renderTable(
                  {
                    headers: ['Alias', 'Version', 'Updated (UTC)'],
                    rows: aliases.map((a) => [a.alias, String(a.version), formatTime(a.updatedAt)]),
                  },
                  terminal,
                ),
        },
        flags,
      )
    })
}
