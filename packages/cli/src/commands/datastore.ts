import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import {
  WharfError,
  printable,
  type DatastoreFile,
  type Datastore as DatastoreInfo,
  type RegisterDatastoreRequest,
} from '@wharf/contract'
import {
  Datastore,
  createProgressReporter,
  formatBytes,
  summaryLines,
  type ProgressReporter,
  type TransferSummary,
} from '@wharf/sdk'
import {
  commandGroup,
  printResult,
  serverCommand,
  withConnectionOptions,
  withOutputOptions,
  type OutputFlags,
} from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import type { ResultView } from '../output/format.js'
import { renderPairs } from '../output/table.js'
import { formatTime } from '../output/values.js'

type CommonFlags = ConnectionFlags & OutputFlags

interface RegisterFlags extends CommonFlags {
  overwrite?: boolean
  createIfNotExists?: boolean
  skipValidation?: boolean
}

interface AzureFlags extends RegisterFlags {
  accountName: string
  accountKey?: string
  sasToken?: string
  endpoint?: string
  protocol?: string
}

/** Where a setting shows in tables: the non-secret settings of a datastore, in a stable order. */
function settingsText(info: DatastoreInfo): string {
  return Object.entries(info.settings)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
}

function datastoreView(info: DatastoreInfo): ResultView {
  return {
    json: info,
    table: (terminal) =>
      renderPairs(
        [
          ['Name', info.name + (info.isDefault ? ' (default)' : '')],
          ['Kind', info.kind],
          ['Auth', `${info.authType}${info.hasSecret ? ' (secret stored encrypted on the server)' : ''}`],
          ...Object.entries(info.settings).map(([k, v]): [string, string] => [k, String(v)]),
          ['Registered', formatTime(info.createdAt)],
          ['Updated', formatTime(info.updatedAt)],
        ],
        terminal,
      ),
  }
}

/** A secret from its flag, else from the environment variable named in the help; never echoed. */
function secretFrom(flag: string | undefined, envName: string): string | undefined {
  const value = flag ?? process.env[envName]
  return value === undefined || value === '' ? undefined : value
}

function registerFlags(
  flags: RegisterFlags,
): Pick<RegisterDatastoreRequest, 'overwrite' | 'createIfNotExists' | 'skipValidation'> {
  return {
    ...(flags.overwrite ? { overwrite: true } : {}),
    ...(flags.createIfNotExists ? { createIfNotExists: true } : {}),
    ...(flags.skipValidation ? { skipValidation: true } : {}),
  }
}

function azureFields(flags: AzureFlags): {
  accountName: string
  accountKey?: string
  sasToken?: string
  endpoint?: string
  protocol?: 'https' | 'http'
} {
  const accountKey = secretFrom(flags.accountKey, 'AZURE_STORAGE_KEY')
  const sasToken = secretFrom(flags.sasToken, 'AZURE_STORAGE_SAS_TOKEN')
  if (flags.protocol !== undefined && flags.protocol !== 'https' && flags.protocol !== 'http') {
    throw new WharfError('INVALID_ARGUMENT', `--protocol "${flags.protocol}" must be https or http`, {
      details: { flag: '--protocol' },
    })
  }
  return {
    accountName: flags.accountName,
    ...(accountKey !== undefined ? { accountKey } : {}),
    ...(sasToken !== undefined && accountKey === undefined ? { sasToken } : {}),
    ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}),
    ...(flags.protocol === 'https' || flags.protocol === 'http' ? { protocol: flags.protocol } : {}),
  }
}

function withRegisterOptions(command: Command): Command {
  return withOutputOptions(withConnectionOptions(command))
    .option('--overwrite', 'replace a registration of the same name (this is how keys are rotated)')
    .option('--create-if-not-exists', 'create the container, share, bucket or folder when it does not exist')
    .option('--skip-validation', 'do not check now that the storage exists and the credentials work')
}

function withAzureOptions(command: Command, what: string): Command {
  return command
    .requiredOption('--account-name <name>', 'storage account name')
    .option('--account-key <key>', 'account key (or set AZURE_STORAGE_KEY, which keeps it out of your shell history)')
    .option('--sas-token <token>', `SAS token for the ${what} (or set AZURE_STORAGE_SAS_TOKEN)`)
    .option(
      '--endpoint <suffix-or-url>',
      'endpoint suffix (default core.windows.net) or the service URL (Azurite: http://127.0.0.1:10000/devstoreaccount1)',
    )
    .option('--protocol <https|http>', 'protocol with an endpoint suffix (default https)')
}

/** The register flag of each request field a server message may name. */
const FIELD_FLAGS: Readonly<Record<string, string>> = {
  accountName: '--account-name',
  accountKey: '--account-key',
  sasToken: '--sas-token',
  containerName: '--container-name',
  fileShareName: '--share-name',
  endpoint: '--endpoint',
  protocol: '--protocol',
  bucket: '--bucket',
  region: '--region',
  accessKeyId: '--access-key-id',
  secretAccessKey: '--secret-access-key',
  forcePathStyle: '--force-path-style',
  path: '--path',
}

/**
 * A register error in the command's terms: the server's messages name request fields ("accountKey",
 * `(field "bucket")`, "pass overwrite"), which on the command line are flags. camelCase names are
 * replaced wherever quoted (no storage or datastore name has capitals); lowercase ones only in
 * `(field "…")`, where they cannot be a value the user typed.
 */
function inFlagTerms(error: WharfError, request: RegisterDatastoreRequest): WharfError {
  let message = error.message.replace(/\(field "(\w+)"\)/g, (text, field: string) =>
    FIELD_FLAGS[field] ? `(${FIELD_FLAGS[field]})` : text,
  )
  message = message.replace(/"([a-z]+[A-Z]\w*)"/g, (text, field: string) => FIELD_FLAGS[field] ?? text)
  if (error.code === 'DATASTORE_EXISTS')
    message = `datastore "${request.name}" is already registered; add --overwrite to replace it (this is how keys are rotated)`
  return message === error.message
    ? error
    : new WharfError(error.code, message, { ...(error.details ? { details: error.details } : {}), cause: error })
}

async function register(flags: CommonFlags, request: RegisterDatastoreRequest): Promise<void> {
  const ws = await connect(flags)
  const info = await ws.client.registerDatastore(request).catch((error: unknown) => {
    throw error instanceof WharfError ? inFlagTerms(error, request) : error
  })
  printResult(datastoreView(info), flags)
}

function transferView(summary: TransferSummary, result: object, verb: string): ResultView {
  return {
    json: result,
    table: () => summaryLines(summary, { verb, overwriteHint: 'pass --overwrite to replace them' }).join('\n') + '\n',
  }
}

/** Exit non-zero when some files failed: scripts must notice, even though the rest went through. */
function failIfAnyFailed(summary: TransferSummary, verb: string): void {
  if (summary.failed.length === 0) return
  // The failures' own code when they share one (all refused: FORBIDDEN), else "the storage let us down".
  const codes = new Set(summary.failed.map((f) => f.code))
  const [only] = codes
  throw new WharfError(
    codes.size === 1 && only !== undefined ? only : 'DATASTORE_UNAVAILABLE',
    `${summary.failed.length} file${summary.failed.length === 1 ? '' : 's'} could not be ${verb} (listed above); run the same command again to retry only those`,
  )
}

/** `wharf datastore …`: register storage, list and show it, move files in and out. */
export function registerDatastoreCommands(program: Command): void {
  const datastore = commandGroup(program, {
    name: 'datastore',
    description: 'registered storage (folders, Azure Blob containers, Azure file shares, S3 buckets) and its files',
    examples: [
      'wharf datastore list',
      'AZURE_STORAGE_KEY=… wharf datastore register azure-blob images --account-name acct --container-name images',
      'wharf datastore upload images ./data --target-path train',
      'wharf datastore download images -d ./local --prefix train/',
    ],
  })

  serverCommand(datastore, 'list')
    .description('datastores of the workspace with kind and settings (secrets are never shown)')
    .addHelpText('after', '\nExample:\n  wharf datastore list -o tsv --query "[].name"')
    .action(async (flags: CommonFlags) => {
      const ws = await connect(flags)
      const items = await ws.client.listDatastores()
      printResult(
        {
          json: items,
          table: {
            headers: ['Name', 'Kind', 'Default', 'Auth', 'Settings'],
            rows: items.map((d) => [d.name, d.kind, d.isDefault ? 'yes' : '', d.authType, settingsText(d)]),
          },
        },
        flags,
      )
    })

  serverCommand(datastore, 'show')
    .description('one datastore: kind, auth type, whether a secret is stored, and its settings')
    .argument('<name>', 'datastore name')
    .addHelpText('after', '\nExample:\n  wharf datastore show workspaceblobstore')
    .action(async (name: string, flags: CommonFlags) => {
      const ws = await connect(flags)
      printResult(datastoreView(await ws.client.getDatastore(name)), flags)
    })

  const registerCommand = datastore
    .command('register')
    .description('register storage under a name: azure-blob, azure-file, s3 or filesystem')
    .addHelpText('after', '\nRun "wharf datastore register <kind> --help" for the options of each kind.')

  withAzureOptions(withRegisterOptions(registerCommand.command('azure-blob')), 'container')
    .description('an Azure Blob Storage container')
    .argument('<name>', 'datastore name: lowercase letters, digits and _')
    .requiredOption('--container-name <container>', 'the container')
    .addHelpText(
      'after',
      '\nExample:\n  AZURE_STORAGE_KEY=… wharf datastore register azure-blob images --account-name acct --container-name images --create-if-not-exists',
    )
    .action(async (name: string, flags: AzureFlags & { containerName: string }) => {
      await register(flags, {
        kind: 'azure_blob',
        name,
        containerName: flags.containerName,
        ...azureFields(flags),
        ...registerFlags(flags),
      })
    })

  withAzureOptions(withRegisterOptions(registerCommand.command('azure-file')), 'share')
    .description('an Azure file share')
    .argument('<name>', 'datastore name: lowercase letters, digits and _')
    .requiredOption('--share-name <share>', 'the file share')
    .addHelpText(
      'after',
      '\nExample:\n  AZURE_STORAGE_KEY=… wharf datastore register azure-file notebooks --account-name acct --share-name notebooks',
    )
    .action(async (name: string, flags: AzureFlags & { shareName: string }) => {
      await register(flags, {
        kind: 'azure_file',
        name,
        fileShareName: flags.shareName,
        ...azureFields(flags),
        ...registerFlags(flags),
      })
    })

  withRegisterOptions(registerCommand.command('s3'))
    .description('an S3 bucket, or one on an S3-compatible server')
    .argument('<name>', 'datastore name: lowercase letters, digits and _')
    .requiredOption('--bucket <bucket>', 'the bucket')
    .option('--region <region>', 'the bucket region (default us-east-1)')
    .option('--endpoint <url>', 'an S3-compatible server, e.g. http://127.0.0.1:9000 (AWS when absent)')
    .option('--access-key-id <id>', 'access key id (or set AWS_ACCESS_KEY_ID)')
    .option(
      '--secret-access-key <secret>',
      'secret access key (or set AWS_SECRET_ACCESS_KEY, which keeps it out of your shell history)',
    )
    .option('--force-path-style', 'address the bucket as endpoint/bucket (most S3-compatible servers need it)')
    .addHelpText(
      'after',
      '\nExample:\n  AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… wharf datastore register s3 raw --bucket raw-data --region eu-west-1',
    )
    .action(
      async (
        name: string,
        flags: RegisterFlags & {
          bucket: string
          region?: string
          endpoint?: string
          accessKeyId?: string
          secretAccessKey?: string
          forcePathStyle?: boolean
        },
      ) => {
        const accessKeyId = secretFrom(flags.accessKeyId, 'AWS_ACCESS_KEY_ID')
        const secretAccessKey = secretFrom(flags.secretAccessKey, 'AWS_SECRET_ACCESS_KEY')
        await register(flags, {
          kind: 's3',
          name,
          bucket: flags.bucket,
          ...(flags.region !== undefined ? { region: flags.region } : {}),
          ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}),
          ...(accessKeyId !== undefined ? { accessKeyId } : {}),
          ...(secretAccessKey !== undefined ? { secretAccessKey } : {}),
          ...(flags.forcePathStyle ? { forcePathStyle: true } : {}),
          ...registerFlags(flags),
        })
      },
    )

  withRegisterOptions(registerCommand.command('filesystem'))
    .description("a folder on the server's machine")
    .argument('<name>', 'datastore name: lowercase letters, digits and _')
    .requiredOption('--path <folder>', 'the folder (relative paths are made absolute here, for a server on this machine)')
    .addHelpText('after', '\nExample:\n  wharf datastore register filesystem scratch --path /data/scratch --create-if-not-exists')
    .action(async (name: string, flags: RegisterFlags & { path: string }) => {
      await register(flags, { kind: 'filesystem', name, path: path.resolve(flags.path), ...registerFlags(flags) })
    })

  serverCommand(datastore, 'set-default')
    .description('make a datastore the default of the workspace')
    .argument('<name>', 'datastore name')
    .addHelpText('after', '\nExample:\n  wharf datastore set-default images')
    .action(async (name: string, flags: CommonFlags) => {
      const ws = await connect(flags)
      const details = await ws.client.setDefaultDatastore(name)
      printResult(
        { json: details, table: () => `"${name}" is now the default datastore of workspace "${details.name}"\n` },
        flags,
      )
    })

  serverCommand(datastore, 'unregister')
    .description(
      'remove a registration; the storage and its files are never touched (workspaceblobstore and the default cannot be removed)',
    )
    .argument('<name>', 'datastore name')
    .addHelpText('after', '\nExample:\n  wharf datastore unregister images')
    .action(async (name: string, flags: CommonFlags) => {
      const ws = await connect(flags)
      await ws.client.unregisterDatastore(name)
      printResult(
        { json: { name, unregistered: true }, table: () => `unregistered "${name}"; its storage was not touched\n` },
        flags,
      )
    })

  serverCommand(datastore, 'ls')
    .description('files of a datastore under an optional path prefix, with size and time')
    .argument('<name>', 'datastore name')
    .argument('[prefix]', 'a string prefix of paths, e.g. train/ (everything when absent)')
    .option('--top <n>', 'show at most n files')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf datastore ls images train/\n  wharf datastore ls images -o json --query "[].path"',
    )
    .action(async (name: string, prefix: string | undefined, flags: CommonFlags & { top?: string }) => {
      const ws = await connect(flags)
      const top = flags.top === undefined ? Infinity : Number(flags.top)
      if (!(top >= 0))
        throw new WharfError('INVALID_ARGUMENT', `--top "${flags.top}" is not a whole number`, { details: { flag: '--top' } })
      // Stored names that cannot be paths are shown too, marked, so they are never missed unseen.
      const files: (DatastoreFile & { unusable?: string })[] = []
      let shown = 0
      listing: for await (const page of ws.client.listDatastoreFiles(name, prefix ? { prefix } : {}).byPage()) {
        for (const { reason, ...file } of page.skipped ?? []) files.push({ ...file, unusable: reason })
        for (const file of page.items) {
          if (shown++ >= top) break listing
          files.push(file)
        }
      }
      const pathCell = (f: (typeof files)[number]): string =>
        f.unusable === undefined ? f.path : `${printable(f.path)} (not downloadable: ${f.unusable})`
      printResult(
        {
          json: files,
          table: {
            headers: ['Path', 'Size', 'Modified (UTC)'],
            rows: files.map((f) => [pathCell(f), formatBytes(f.size), formatTime(f.modifiedAt)]),
          },
        },
        flags,
      )
    })

  serverCommand(datastore, 'upload')
    .description(
      'upload a folder tree (or files) with a progress bar; existing different files are skipped and listed unless --overwrite',
    )
    .argument('<name>', 'datastore name')
    .argument('<paths...>', 'a folder whose tree is uploaded, or files (with --relative-root)')
    .option('-t, --target-path <path>', 'where in the datastore (the root when absent)')
    .option(
      '--relative-root <dir>',
      'for files: the part of their paths left out of the datastore path (their common folder when absent)',
    )
    .option('--overwrite', 'replace files that exist with different content (identical ones are always left alone)')
    .option('--concurrency <n>', 'files moved at the same time')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf datastore upload images ./data -t train\n  wharf datastore upload images a.csv b.csv --relative-root . -t extra',
    )
    .action(
      async (
        name: string,
        paths: string[],
        flags: CommonFlags & { targetPath?: string; relativeRoot?: string; overwrite?: boolean; concurrency?: string },
      ) => {
        const ws = await connect(flags)
        const ds = await Datastore.get(ws, name)
        const options = {
          ...(flags.targetPath !== undefined ? { targetPath: flags.targetPath } : {}),
          overwrite: flags.overwrite === true,
          ...concurrencyOf(flags.concurrency),
        }
        // A mistyped path is the user's to fix before anything moves, as with cp.
        const kinds = await Promise.all(
          paths.map(async (p) =>
            stat(p).then(
              (s) => (s.isDirectory() ? 'folder' : 'file'),
              () => undefined,
            ),
          ),
        )
        const missing = paths.filter((_, i) => kinds[i] === undefined)
        if (missing.length > 0) {
          throw new WharfError(
            'FILE_NOT_FOUND',
            `nothing was uploaded: ${missing.map((p) => `"${printable(p, 200)}"`).join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist; check the path`,
          )
        }
        const single = paths.length === 1 && flags.relativeRoot === undefined ? paths[0] : undefined
        const isFolder = single !== undefined && kinds[0] === 'folder'
        const bar = progressBar(`Uploading to ${name}`, 'uploaded')
        const result =
          isFolder && single !== undefined
            ? await ds.upload({ srcDir: single, ...options, ...bar.options })
            : await ds.uploadFiles({
                files: paths,
                ...(flags.relativeRoot !== undefined ? { relativeRoot: flags.relativeRoot } : {}),
                ...options,
                ...bar.options,
              })
        const summary = { ...result, transferred: result.uploaded }
        bar.reporter?.finish(summary)
        printResult(transferView(summary, result, 'uploaded'), flags)
        failIfAnyFailed(summary, 'uploaded')
      },
    )

  serverCommand(datastore, 'download')
    .description(
      'download files (all, or under a prefix) into a folder with a progress bar; existing different files are skipped and listed unless --overwrite',
    )
    .argument('<name>', 'datastore name')
    .requiredOption('-d, --dir <dir>', 'folder to download into')
    .option('--prefix <prefix>', 'a string prefix of datastore paths (everything when absent)')
    .option('--strip-prefix', 'write files relative to the prefix instead of under their full path')
    .option('--overwrite', 'replace files that exist with different content (identical ones are always left alone)')
    .option('--concurrency <n>', 'files moved at the same time')
    .option(
      '--no-verify',
      'do not check files against the MD5 the storage keeps (faster for large files; sizes are still checked)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  wharf datastore download images -d ./local --prefix train/\n  wharf datastore download images -d ./train --prefix train/ --strip-prefix',
    )
    .action(
      async (
        name: string,
        flags: CommonFlags & {
          dir: string
          prefix?: string
          stripPrefix?: boolean
          overwrite?: boolean
          concurrency?: string
          verify: boolean
        },
      ) => {
        const ws = await connect(flags)
        const ds = await Datastore.get(ws, name)
        const bar = progressBar(`Downloading from ${name}`, 'downloaded')
        const result = await ds.downloadFiles({
          ...bar.options,
          targetPath: flags.dir,
          ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
          ...(flags.stripPrefix ? { stripPrefix: true } : {}),
          overwrite: flags.overwrite === true,
          verify: flags.verify,
          ...concurrencyOf(flags.concurrency),
        })
        const summary = { ...result, transferred: result.downloaded }
        bar.reporter?.finish(summary)
        printResult(transferView(summary, result, 'downloaded'), flags)
        failIfAnyFailed(summary, 'downloaded')
      },
    )
}

/**
 * A progress bar on stderr when it is a terminal; the command prints the result itself, so the SDK's
 * own progress output is turned off either way.
 */
function progressBar(
  title: string,
  verb: string,
): { reporter: ProgressReporter | undefined; options: { showProgress: false; onProgress?: ProgressReporter['onProgress'] } } {
  if (process.stderr.isTTY !== true) return { reporter: undefined, options: { showProgress: false } }
  const reporter = createProgressReporter({ title, verb, summary: false })
  return { reporter, options: { showProgress: false, onProgress: (p) => reporter.onProgress(p) } }
}

function concurrencyOf(raw: string | undefined): { concurrency?: number } {
  if (raw === undefined) return {}
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new WharfError('INVALID_ARGUMENT', `--concurrency "${raw}" is not a whole number ≥ 1`, {
      details: { flag: '--concurrency' },
    })
  }
  return { concurrency: value }
}
