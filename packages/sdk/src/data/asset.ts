import path from 'node:path'
import type { AssetFile, AssetSummary, AssetVersion, PagedIterable, UpdateAssetVersionRequest } from '@wharf/contract'
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

/** Options of `asset.update`. */
export interface AssetUpdateOptions {
  /** The new description. */
  description?: string
  /** Tags to set, merged into the version's tags: a key given is added or replaced, the others stay. */
  tags?: Record<string, string>
  signal?: AbortSignal
}

/**
 * One version of a named asset: files promoted from a run (`wharf history promote`, `run.registerModel`).
 * Its files never change; its description and tags can (`addTags`, `removeTags`, `update`), and the
 * handle's `info` shows them as the server answered its last call (`Asset.get` reads them again).
 */
export class Asset {
  readonly workspace: WorkspaceConnection
  #info: AssetVersion

  constructor(workspace: WorkspaceConnection, info: AssetVersion) {
    this.workspace = workspace
    this.#info = info
  }

  /** The version as the server last answered: when it was read, or after this handle's last edit. */
  get info(): AssetVersion {
    return this.#info
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

  get description(): string {
    return this.info.description
  }

  get tags(): Readonly<Record<string, string>> {
    return this.info.tags
  }

  /**
   * Adds tags to this version, or replaces the values of keys it has; its other tags stay. Returns the
   * version as it is now, which {@link info} shows too. LIMIT_EXCEEDED past the server's tag limit.
   */
  addTags(tags: Record<string, string>, options: { signal?: AbortSignal } = {}): Promise<AssetVersion> {
    return this.#change({ tags: { set: tags } }, options)
  }

  /** Removes tags from this version (keys it does not have are ignored). Returns the version as it is now. */
  removeTags(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<AssetVersion> {
    return this.#change({ tags: { remove: [...keys] } }, options)
  }

  /**
   * Sets the description and merges `tags` into the version's tags (keys given are added or replaced, the
   * others stay; {@link removeTags} removes), in one request. Returns the version as it is now.
   */
  update(options: AssetUpdateOptions): Promise<AssetVersion> {
    return this.#change(
      {
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.tags !== undefined ? { tags: { set: options.tags } } : {}),
      },
      options,
    )
  }

  /**
   * Edits the version this handle holds by number (not the alias it was got by, which may have moved
   * since) and keeps the server's answer.
   */
  async #change(change: UpdateAssetVersionRequest, options: { signal?: AbortSignal }): Promise<AssetVersion> {
    this.#info = await this.workspace.client.updateAssetVersion(
      { name: this.name, version: this.version },
      change,
      options.signal ? { signal: options.signal } : {},
    )
    return this.#info
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
