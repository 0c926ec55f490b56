import { lstat } from 'node:fs/promises'
import path from 'node:path'
import type { PagedIterable } from '@wharf/contract'
import { WharfError, printable, type AssetFile, type AssetSummary, type AssetVersion } from '@wharf/contract'
import { toDatastoreKey } from '@wharf/datastores'
import { TRANSFER_CONCURRENCY, downloadVerifiedFile, forEachLimited } from './transfer.js'
import type { WorkspaceConnection } from '../config/connection.js'

/** How many existing files an overwrite refusal names before it says "and N more". */
const NAMED_CONFLICTS = 5

/** Options of `asset.download`. */
export interface AssetDownloadOptions {
  /** Folder the files are written into, keeping their paths inside the asset. */
  targetDir: string
  /** Replace files that already exist (by default the download refuses and names them). */
  overwrite?: boolean
  signal?: AbortSignal
}

/**
 * One version of a named asset: files promoted from a run (`wharf history promote`, `run.registerModel`).
 * A version never changes, so the handle is a snapshot. Obtained from `Asset.get`.
 */
export class Asset {
  readonly workspace: WorkspaceConnection
  readonly info: AssetVersion

  constructor(workspace: WorkspaceConnection, info: AssetVersion) {
    this.workspace = workspace
    this.info = info
  }

  /** One version of the asset `name` (the latest by default). ASSET_NOT_FOUND. */
  static async get(
    workspace: WorkspaceConnection,
    name: string,
    options: { version?: number | 'latest'; signal?: AbortSignal } = {},
  ): Promise<Asset> {
    const info = await workspace.client.getAssetVersion(name, options.version ?? 'latest', options.signal ? { signal: options.signal } : {})
    return new Asset(workspace, info)
  }

  /** The workspace's assets by name, each with its latest version; fetched a page at a time. */
  static list(workspace: WorkspaceConnection, options: { signal?: AbortSignal } = {}): PagedIterable<AssetSummary> {
    return workspace.client.listAssets(options.signal ? { signal: options.signal } : {})
  }

  get name(): string {
    return this.info.name
  }

  get version(): number {
    return this.info.version
  }

  get files(): readonly AssetFile[] {
    return this.info.files
  }

  /**
   * Downloads every file into `targetDir` (keeping paths inside the asset), each streamed through a
   * temp file and checked against its sha256. Refuses, before writing anything, when files exist
   * unless `overwrite`. Returns the files written.
   */
  async download(options: AssetDownloadOptions): Promise<string[]> {
    const root = path.resolve(options.targetDir)
    const targets = this.files.map((file) => ({ file, target: targetOf(root, file.path) }))
    if (options.overwrite !== true) await refuseExisting(targets.map((t) => t.target), this.#label())
    const call = options.signal ? { signal: options.signal } : {}
    await forEachLimited(targets, {
      limit: TRANSFER_CONCURRENCY,
      work: ({ file, target }) =>
        downloadVerifiedFile(
          {
            what: `file "${file.path}" of ${this.#label()}`,
            size: file.size,
            sha256: file.sha256,
            open: () => this.workspace.client.downloadAssetFile({ name: this.name, version: this.version, path: file.path }, call),
          },
          target,
        ),
    })
    return targets.map((t) => t.target).sort()
  }

  #label(): string {
    return `asset ${this.name}:${this.version}`
  }
}

/** Where a file of the asset goes under `root`; UNSAFE_PATH for a path that would leave it. */
function targetOf(root: string, filePath: string): string {
  const target = path.join(root, ...toDatastoreKey(filePath).split('/'))
  if (!target.startsWith(root + path.sep)) {
    throw new WharfError('UNSAFE_PATH', `asset file "${printable(filePath)}" would be written outside ${root}`)
  }
  return target
}

async function refuseExisting(targets: readonly string[], label: string): Promise<void> {
  const existing: string[] = []
  for (const target of targets) {
    if (await lstat(target).then(() => true, () => false)) existing.push(target)
  }
  if (existing.length === 0) return
  const named = existing.slice(0, NAMED_CONFLICTS).join(', ')
  const more = existing.length > NAMED_CONFLICTS ? ` and ${existing.length - NAMED_CONFLICTS} more` : ''
  throw new WharfError(
    'FILE_EXISTS',
    `downloading ${label} would overwrite ${existing.length} existing file(s): ${named}${more}; ` +
      'pass overwrite: true to replace them, or choose another folder',
    { details: { existing } },
  )
}
