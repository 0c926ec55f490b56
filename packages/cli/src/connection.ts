import { findWorkspaceConfig, readEnvironment, Workspace } from '@wharf/sdk'

/** Flags every command that talks to a server accepts. */
export interface ConnectionFlags {
  url?: string
  workspace?: string
  /** The global `--token`, copied onto each command's flags by the program. */
  token?: string
}

/**
 * The workspace a command acts on: flags first (`--url`, `--workspace`, `--token`), then
 * WHARF_TRACKING_URI / WHARF_WORKSPACE / WHARF_AUTH_TOKEN, then `.wharf/config.json` (or `config.json`)
 * here or in a parent folder.
 */
export async function connect(flags: ConnectionFlags): Promise<Workspace> {
  const env = readEnvironment()
  const url = flags.url ?? env.trackingUri
  const workspace = flags.workspace ?? env.workspace
  const token = flags.token ?? env.token
  const config = await findWorkspaceConfig({
    overrides: {
      ...(url !== undefined ? { url } : {}),
      ...(workspace !== undefined ? { workspace } : {}),
      ...(token !== undefined ? { token } : {}),
    },
  })
  return Workspace.connect({
    url: config.url,
    workspace: config.workspace,
    spoolDir: env.spoolDir,
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(config.python !== undefined ? { python: config.python } : {}),
  })
}
