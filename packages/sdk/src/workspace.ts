import type { WorkspaceConnection } from './config/connection.js'
import { WharfClient } from '@wharf/client'
import type { Workspace as WorkspaceInfo } from '@wharf/contract'
import { Datastore } from './data/datastore.js'
import { findWorkspaceConfig, type WorkspaceConfig } from './config/config-file.js'
import { readEnvironment } from './config/environment.js'
import { Experiment } from './runs/experiment.js'

/** How to reach a workspace without a config file. */
export interface ConnectOptions {
  url: string
  workspace?: string
  token?: string
  /** Where unsent metric batches are spooled (default `$WHARF_HOME/spool` or `~/.wharf/spool`). */
  spoolDir?: string
  /** The interpreter of submitted `.py` scripts that name none (default `python3`). */
  python?: string
}

/**
 * A workspace on a Wharf server: the handle everything else hangs off. Creating one does no I/O;
 * methods that talk to the server are async.
 */
export class Workspace implements WorkspaceConnection {
  readonly name: string
  readonly url: string
  readonly client: WharfClient
  /** Folder of this process's spool of metric batches that could not be sent. */
  readonly spoolDir: string
  /** The config file this workspace came from, when it came from one. */
  readonly configSource: string | undefined
  /** The interpreter of submitted `.py` scripts that name none (the config's `"python"`). */
  readonly python: string | undefined

  constructor(options: ConnectOptions & { configSource?: string }) {
    this.python = options.python
    this.url = options.url
    this.name = options.workspace ?? 'default'
    this.client = new WharfClient({
      url: options.url,
      workspace: this.name,
      ...(options.token !== undefined ? { token: options.token } : {}),
    })
    this.spoolDir = options.spoolDir ?? readEnvironment().spoolDir
    this.configSource = options.configSource
  }

  /**
   * The workspace named by `.wharf/config.json` (or `config.json`) in the current folder or a parent,
   * with WHARF_TRACKING_URI, WHARF_WORKSPACE and WHARF_AUTH_TOKEN overriding. CONFIG_NOT_FOUND, with
   * how to write one, when there is none.
   */
  static async fromConfig(options: { path?: string; cwd?: string } = {}): Promise<Workspace> {
    const env = readEnvironment()
    const config: WorkspaceConfig = await findWorkspaceConfig({
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.path !== undefined ? { file: options.path } : {}),
      overrides: {
        ...(env.trackingUri !== undefined ? { url: env.trackingUri } : {}),
        ...(env.workspace !== undefined ? { workspace: env.workspace } : {}),
        ...(env.token !== undefined ? { token: env.token } : {}),
      },
    })
    return new Workspace({
      url: config.url,
      workspace: config.workspace,
      ...(config.token !== undefined ? { token: config.token } : {}),
      spoolDir: env.spoolDir,
      configSource: config.source,
      ...(config.python !== undefined ? { python: config.python } : {}),
    })
  }

  /** A workspace at a known URL, without looking for a config file. */
  static connect(options: ConnectOptions): Workspace {
    return new Workspace(options)
  }

  /** A handle on an experiment of this workspace (no I/O; it is created on first use). */
  experiment(name: string): Experiment {
    return new Experiment(this, name)
  }

  /** The workspace as the server knows it: default and artifact datastores, creation time. */
  getDetails(options: { signal?: AbortSignal } = {}): Promise<WorkspaceInfo> {
    return this.client.getWorkspace(options)
  }

  /** The registered datastores, by name, each with its kind (credentials are never included). */
  async datastores(options: { signal?: AbortSignal } = {}): Promise<Map<string, Datastore>> {
    const list = await this.client.listDatastores(options)
    return new Map(list.map((info) => [info.name, new Datastore(this, info)]))
  }

  /** The default datastore (`workspaceblobstore` until changed). */
  getDefaultDatastore(options: { signal?: AbortSignal } = {}): Promise<Datastore> {
    return Datastore.getDefault(this, options)
  }

  /** Makes a registered datastore the default; DATASTORE_NOT_FOUND. */
  async setDefaultDatastore(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.client.setDefaultDatastore(name, options)
  }
}
