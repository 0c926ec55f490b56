import { stat } from 'node:fs/promises'
import path from 'node:path'
import {
  WharfError,
  type Datastore as DatastoreInfo,
  type DatastoreFile,
  type DatastoreKind,
  type RegisterDatastoreRequest,
} from '@wharf/contract'
import type * as Drivers from '@wharf/datastores'
import type * as CloudDrivers from '@wharf/datastores/cloud'
import type { DatastoreDriver, DownloadResult, DriverLease, TransferProgress, UploadItem, UploadResult } from '@wharf/datastores'
import type * as ServerDriver from './server-driver.js'
import { downloadVerified } from './download.js'
import { DataReference, type DataReferenceBindOptions } from './data-reference.js'
import { createProgressReporter, type ProgressReporter } from './progress.js'
import type { WorkspaceConnection } from '../config/connection.js'

/**
 * The storage drivers and the transfer engine, loaded on first use: the cloud SDKs behind them take
 * about a second to load, which a script that only logs metrics should never pay.
 */
async function engine(): Promise<typeof Drivers & typeof CloudDrivers & typeof ServerDriver> {
  const [drivers, cloud, server] = await Promise.all([
    import('@wharf/datastores'),
    import('@wharf/datastores/cloud'),
    import('./server-driver.js'),
  ])
  return { ...drivers, ...cloud, ...server }
}

/** What every registration takes. */
export interface RegisterOptions {
  workspace: WorkspaceConnection
  datastoreName: string
  /** Replace an existing registration of this name (how keys are rotated). */
  overwrite?: boolean
  /** Create the container, share, bucket or folder when missing. */
  createIfNotExists?: boolean
  /** Do not check the storage and credentials now (storage behind a firewall). */
  skipValidation?: boolean
  signal?: AbortSignal
}

/** Azure storage coordinates: the account, a key or a SAS token, and where the service is. */
export interface AzureStorageOptions extends RegisterOptions {
  accountName: string
  accountKey?: string
  sasToken?: string
  /** `https` (default) or `http`. */
  protocol?: 'https' | 'http'
  /** A domain suffix (default `core.windows.net`) or a full service URL (Azurite). */
  endpoint?: string
}

export interface RegisterS3Options extends RegisterOptions {
  bucket: string
  region?: string
  /** An S3-compatible server's URL; AWS when absent. */
  endpoint?: string
  accessKeyId: string
  secretAccessKey: string
  forcePathStyle?: boolean
}

/** Common options of the transfer calls. */
export interface TransferOptions {
  /** Replace files that exist and differ; without it they are skipped and reported. Default false. */
  overwrite?: boolean
  /** A progress bar on stderr (a summary line when stderr is not a terminal). Default true. */
  showProgress?: boolean
  /** Files moved at the same time (default: the transfer engine's). */
  concurrency?: number
  /** Called as bytes flow, for callers drawing their own progress. */
  onProgress?: (progress: TransferProgress) => void
  signal?: AbortSignal
}

export interface UploadOptions extends TransferOptions {
  /** The local folder whose whole tree is uploaded. */
  srcDir: string
  /** Where in the datastore the tree goes; the root when absent. */
  targetPath?: string
}

export interface UploadFilesOptions extends TransferOptions {
  /** Local files (absolute, or relative to the working folder). */
  files: string[]
  /** Stripped from each file's path to make its datastore path; the files' common folder when absent. */
  relativeRoot?: string
  targetPath?: string
}

export interface DownloadOptions extends TransferOptions {
  /** The local folder files are written under. */
  targetPath: string
  /** A string prefix of datastore paths; everything when absent. */
  prefix?: string
  /** Write files relative to the prefix instead of under their full datastore path. */
  stripPrefix?: boolean
  /** Check each file against the MD5 the storage keeps before it is put in place (default true). */
  verify?: boolean
}

/** Everything an upload did: each file is in exactly one list. */
export type DatastoreUploadResult = UploadResult
/** Everything a download did: each file is in exactly one list. */
export type DatastoreDownloadResult = DownloadResult

/**
 * A registered datastore: a named pointer to storage (a folder, an Azure container or share, an S3
 * bucket) in a workspace. Its credentials stay on the server; transfers go straight to Azure with a
 * short-lived SAS the server signs, straight to a folder this machine shares with the server, or
 * through the server.
 */
export class Datastore {
  readonly workspace: WorkspaceConnection
  readonly name: string
  readonly kind: DatastoreKind
  /** Non-secret settings: account, container, bucket, region, folder… */
  readonly settings: Readonly<Record<string, string | number | boolean>>
  readonly authType: string
  readonly hasSecret: boolean
  readonly isDefault: boolean

  constructor(workspace: WorkspaceConnection, info: DatastoreInfo) {
    this.workspace = workspace
    this.name = info.name
    this.kind = info.kind
    this.settings = info.settings
    this.authType = info.authType
    this.hasSecret = info.hasSecret
    this.isDefault = info.isDefault
  }

  // ------------------------------------------------------------------ registration

  /** Registers an Azure Blob container (validated unless skipValidation). */
  static registerAzureBlobContainer(options: AzureStorageOptions & { containerName: string }): Promise<Datastore> {
    const { workspace, datastoreName, signal, ...rest } = options
    return Datastore.#register(workspace, { kind: 'azure_blob', name: datastoreName, ...rest }, signal)
  }

  /** Registers an Azure file share (validated unless skipValidation). */
  static registerAzureFileShare(options: AzureStorageOptions & { fileShareName: string }): Promise<Datastore> {
    const { workspace, datastoreName, signal, ...rest } = options
    return Datastore.#register(workspace, { kind: 'azure_file', name: datastoreName, ...rest }, signal)
  }

  /** Registers an S3 bucket or one on an S3-compatible server (validated unless skipValidation). */
  static registerS3Bucket(options: RegisterS3Options): Promise<Datastore> {
    const { workspace, datastoreName, signal, ...rest } = options
    return Datastore.#register(workspace, { kind: 's3', name: datastoreName, ...rest }, signal)
  }

  /** Registers a folder on the server's machine (an absolute path there). */
  static registerFilesystem(options: RegisterOptions & { path: string }): Promise<Datastore> {
    const { workspace, datastoreName, signal, ...rest } = options
    return Datastore.#register(workspace, { kind: 'filesystem', name: datastoreName, ...rest }, signal)
  }

  static async #register(
    workspace: WorkspaceConnection,
    request: RegisterDatastoreRequest,
    signal: AbortSignal | undefined,
  ): Promise<Datastore> {
    const info = await workspace.client.registerDatastore(request, signal ? { signal } : {})
    return new Datastore(workspace, info)
  }

  /** A registered datastore by name; DATASTORE_NOT_FOUND. */
  static async get(workspace: WorkspaceConnection, name: string, options: { signal?: AbortSignal } = {}): Promise<Datastore> {
    return new Datastore(workspace, await workspace.client.getDatastore(name, options))
  }

  /** The workspace's default datastore. */
  static async getDefault(workspace: WorkspaceConnection, options: { signal?: AbortSignal } = {}): Promise<Datastore> {
    const details = await workspace.client.getWorkspace(options)
    return Datastore.get(workspace, details.defaultDatastore, options)
  }

  /** Removes the registration only: the storage and its files are never touched. */
  async unregister(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.workspace.client.unregisterDatastore(this.name, options)
  }

  /** Makes this the workspace's default datastore. */
  async setAsDefault(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.workspace.client.setDefaultDatastore(this.name, options)
  }

  // ------------------------------------------------------------------ data references for submitted runs

  /** A reference to `p` in this datastore (mounted by default); the name is derived from the path unless given. */
  path(p: string, options: { dataReferenceName?: string } = {}): DataReference {
    return new DataReference({ datastore: this.name, pathOnDatastore: p, ...options })
  }

  /** The whole datastore, mounted for a run: `$WHARF_DATAREFERENCE_<datastore name>`. */
  asMount(): DataReference {
    return new DataReference({ datastore: this.name, mode: 'mount' })
  }

  /** The whole datastore, downloaded before a run starts. */
  asDownload(options: DataReferenceBindOptions = {}): DataReference {
    return new DataReference({ datastore: this.name }).asDownload(options)
  }

  /** A run's `pathOnCompute` (default: a folder the runner picks), uploaded to the datastore root after the run. */
  asUpload(options: DataReferenceBindOptions = {}): DataReference {
    return new DataReference({ datastore: this.name }).asUpload(options)
  }

  // ------------------------------------------------------------------ files

  /** Files under an optional string prefix, in path order. */
  async *list(options: { prefix?: string; signal?: AbortSignal } = {}): AsyncGenerator<DatastoreFile> {
    yield* this.workspace.client.listDatastoreFiles(this.name, options)
  }

  /**
   * Uploads the whole tree of `srcDir` to `targetPath` (the root when absent). Existing files that
   * differ are skipped and listed unless `overwrite`; identical ones are left alone (so re-running an
   * interrupted upload sends only the rest). Per-file failures are listed, never thrown.
   */
  async upload(options: UploadOptions): Promise<DatastoreUploadResult> {
    const { listLocalFiles, planUploadKeys } = await engine()
    const files = await listLocalFiles(path.resolve(options.srcDir))
    const keys = planUploadKeys(
      files.map((file) => file.localPath),
      {
        relativeRoot: path.resolve(options.srcDir),
        ...(options.targetPath !== undefined ? { targetPath: options.targetPath } : {}),
      },
    )
    // The walk already knows each size: the engine need not stat every file again.
    return this.#upload(
      keys.map((item, i) => ({ ...item, size: files[i]?.size })),
      options,
    )
  }

  /**
   * Uploads the given files: each goes to `targetPath` + (its path minus `relativeRoot`).
   * INVALID_ARGUMENT if `relativeRoot` is not a common folder of all of them.
   */
  async uploadFiles(options: UploadFilesOptions): Promise<DatastoreUploadResult> {
    const { planUploadKeys } = await engine()
    const items = planUploadKeys(
      options.files.map((file) => path.resolve(file)),
      {
        ...(options.relativeRoot !== undefined ? { relativeRoot: path.resolve(options.relativeRoot) } : {}),
        ...(options.targetPath !== undefined ? { targetPath: options.targetPath } : {}),
      },
    )
    return this.#upload(items, options)
  }

  /**
   * Downloads the files under `prefix` (everything when absent) into `targetPath`, keeping their
   * datastore paths, and returns how many were written. {@link downloadFiles} returns the full report.
   */
  async download(options: DownloadOptions): Promise<number> {
    const result = await this.downloadFiles(options)
    return result.downloaded.length + result.overwritten.length
  }

  /** Like {@link download}, returning what happened to every file: written, unchanged, skipped, failed. */
  async downloadFiles(options: DownloadOptions): Promise<DatastoreDownloadResult> {
    const driver = await this.#driverFor('read', options.signal)
    const { onProgress, ...rest } = common(options, undefined)
    return downloadVerified(
      { driver },
      {
        targetDir: path.resolve(options.targetPath),
        ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
        ...(options.stripPrefix !== undefined ? { stripPrefix: options.stripPrefix } : {}),
        ...(options.verify !== undefined ? { verify: options.verify } : {}),
        ...(options.showProgress === false ? {} : { progress: { title: `Downloading ${this.name}` } }),
        ...(onProgress ? { onProgress } : {}),
        ...rest,
      },
    )
  }

  async #upload(items: UploadItem[], options: TransferOptions): Promise<DatastoreUploadResult> {
    const { uploadFiles } = await engine()
    const driver = await this.#driverFor('write', options.signal)
    const reporter = this.#reporter(options, 'Uploading', 'uploaded')
    const result = await uploadFiles(driver, items, common(options, reporter))
    reporter?.finish({ ...result, transferred: result.uploaded })
    return result
  }

  #reporter(options: TransferOptions, title: string, verb: string): ProgressReporter | undefined {
    return options.showProgress === false ? undefined : createProgressReporter({ title: `${title} ${this.name}`, verb })
  }

  /**
   * The most direct way to the bytes the server allows for `operation`. A delegated Azure token is
   * renewed from the server before it runs out, so a transfer may last longer than one token.
   */
  async #driverFor(operation: 'read' | 'write', signal: AbortSignal | undefined): Promise<DatastoreDriver> {
    const { createAzureBlobDriver, createAzureFileDriver, createFilesystemDriver, createRenewingDriver, createServerDriver } =
      await engine()
    const client = this.workspace.client
    const access = await client.datastoreAccess(this.name, operation, signal ? { signal } : {})
    switch (access.mode) {
      case 'azure_sas': {
        const leaseOf = (grant: typeof access): DriverLease => {
          const common = {
            accountName: grant.accountName,
            endpoint: grant.serviceUrl,
            credential: { kind: 'sas' as const, sasToken: grant.sasToken },
          }
          const driver =
            grant.kind === 'azure_blob'
              ? createAzureBlobDriver({ ...common, containerName: grant.containerName })
              : createAzureFileDriver({ ...common, shareName: grant.containerName })
          return { driver, expiresOn: new Date(grant.expiresOn) }
        }
        return createRenewingDriver({
          kind: access.kind,
          first: leaseOf(access),
          renew: async () => {
            const next = await client.datastoreAccess(this.name, operation)
            if (next.mode !== 'azure_sas') {
              throw new WharfError(
                'DATASTORE_UNAVAILABLE',
                `the datastore "${this.name}" changed during the transfer (it is now reached as ${next.mode}); run the transfer again`,
              )
            }
            return leaseOf(next)
          },
        })
      }
      case 'filesystem':
        if (await sameFolder(access)) return createFilesystemDriver({ root: access.path })
        return createServerDriver(client, this)
      case 'proxy':
        return createServerDriver(client, this)
    }
  }
}

/** True when this process sees the server's folder itself (same device and inode), not a namesake. */
async function sameFolder(access: { path: string; device: number; inode: number }): Promise<boolean> {
  try {
    const info = await stat(access.path)
    return info.isDirectory() && info.dev === access.device && info.ino === access.inode
  } catch {
    return false
  }
}

function common(
  options: TransferOptions,
  reporter: ProgressReporter | undefined,
): { overwrite?: boolean; concurrency?: number; signal?: AbortSignal; onProgress?: (progress: TransferProgress) => void } {
  const callbacks = [options.onProgress, reporter ? (p: TransferProgress) => reporter.onProgress(p) : undefined].filter(
    (f): f is (progress: TransferProgress) => void => f !== undefined,
  )
  if (options.concurrency !== undefined && !(Number.isSafeInteger(options.concurrency) && options.concurrency > 0)) {
    throw new WharfError('INVALID_ARGUMENT', `concurrency must be a whole number ≥ 1, got ${String(options.concurrency)}`)
  }
  return {
    ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(callbacks.length > 0 ? { onProgress: (p: TransferProgress) => callbacks.forEach((f) => f(p)) } : {}),
  }
}
