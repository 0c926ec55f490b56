import type { WharfClient } from '@wharf/client'

/**
 * What runs, experiments, datastores and assets need of their workspace: its name, its server and a
 * client bound to it. `Workspace` is one; the rooms depend on this shape, not on that class, so
 * nothing under `runs/` or `data/` imports the workspace that builds them.
 */
export interface WorkspaceConnection {
  /** The workspace's name on its server. */
  readonly name: string
  /** The server's base URL. */
  readonly url: string
  /** A client for this workspace; no I/O until a call. */
  readonly client: WharfClient
  /** Where unsent metrics and runs started offline are kept until `wharf sync`. */
  readonly spoolDir: string
  /** The interpreter of submitted `.py` scripts that name none; `python3` when undefined. */
  readonly python?: string | undefined
}
