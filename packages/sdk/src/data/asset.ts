import path from 'node:path'
import type { AssetFile, AssetSummary, AssetVersion, PagedIterable } from '@wharf/contract'
import { downloadVerified, localPathUnder, placedPaths, requireAllPlaced, serverFile } from './download.js'
import type { WorkspaceConnection } from '../config/connection.js'

/** Options of `asset.download`. */
export interface AssetDownloadOptions {
  /** Folder the files are written into, keeping their paths inside the asset. */
  targetDir: string
  /** Replace files that exist with other content (by default the download leaves them and refuses, naming them); identical ones are always left alone. */
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

  /**
   * One version of the asset `name`: the latest by default, a number, or an alias such as `champion`
   * (the version it points at now). ASSET_NOT_FOUND; ASSET_ALIAS_NOT_FOUND.
   */
  static async get(
    workspace: WorkspaceConnection,
    name: string,
    options: { version?: number | string; signal?: AbortSignal } = {},
  ): Promise<Asset> {
    const info = await workspace.client.getAssetVersion(
      name,
      options.version ?? 'latest',
      options.signal ? { signal: options.signal } : {},
    )
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
   * temp file and checked against its sha256. Identical files already there are left alone; others with
   * different content are left alone too and the call rejects with FILE_EXISTS naming them, unless
   * `overwrite`. Returns the files in place, sorted.
   */
  async download(options: AssetDownloadOptions): Promise<string[]> {
    const root = path.resolve(options.targetDir)
    const asset = { name: this.name, version: this.version }
    const files = this.files.map((file) =>
      serverFile({
        key: file.path,
        size: file.size,
        sha256: file.sha256,
        fetch: (call) => this.workspace.client.downloadAssetFile({ ...asset, path: file.path }, call),
      }),
    )
    const result = await downloadVerified(
      { files },
      {
        targetDir: root,
        ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    )
    const localPathOf = (key: string): string => localPathUnder(root, key)
    requireAllPlaced(result, { overwriteHint: `pass overwrite: true to replace them with ${this.#label()}`, localPathOf })
    return placedPaths(result, localPathOf)
  }

  #label(): string {
    return `asset ${this.name}:${this.version}`
  }
}
