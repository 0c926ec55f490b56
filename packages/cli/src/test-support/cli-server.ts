import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { WharfClient } from '@wharf/client'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'

/** A real server in this process for CLI tests, the environment that points `wharf` at it, and a client. */
export interface CliTestServer {
  server: RunningServer
  dir: string
  env: Record<string, string>
  client: WharfClient
  stop(): Promise<void>
}

/** Starts a server on a free loopback port over a fresh folder; `stop` closes it and removes the folder. */
export async function startCliTestServer(prefix: string): Promise<CliTestServer> {
  const dir = await mkdtemp(path.join(tmpdir(), `wharf-cli-${prefix}-`))
  // Tests register folders in their own temp folder, beside the server's data folder.
  const server = await startServer(
    loadServerConfig({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'server'), filesystemRoots: [dir] }),
    {
      log: createLog({ write: () => undefined }),
      checkResponses: true,
    },
  )
  return {
    server,
    dir,
    env: { WHARF_TRACKING_URI: server.url, WHARF_WORKSPACE: 'default', WHARF_HOME: path.join(dir, 'home'), COLUMNS: '' },
    client: new WharfClient({ url: server.url }),
    async stop() {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
