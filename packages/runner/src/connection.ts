import type { RunnerModule } from '@wharf/sdk'

/** What the runner needs of a workspace: its name, server URL, a client, and the spool folder ($WHARF_HOME/spool). */
export type WorkspaceConnection = Parameters<RunnerModule['submitRun']>[0]
