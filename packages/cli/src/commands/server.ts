import path from 'node:path'
import type { Command } from 'commander'
import { WharfError } from '@wharf/contract'
import { VERSION } from '../version.js'

interface ServerFlags {
  host?: string
  port?: string
  dataDir?: string
  databaseUrl?: string
  authToken?: string
  authTokenFile?: string
  allowedHosts?: string
  logRequests?: boolean
}

function parsePort(raw: string): number {
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new WharfError('INVALID_ARGUMENT', `port "${raw}" is not a port number (0–65535; 0 picks a free one)`)
  }
  return port
}

/** The token or token file, a flag winning over the environment as a pair (so a flag never meets the other's env). */
function authTokenSettings(flags: ServerFlags): { authToken?: string; authTokenFile?: string } {
  if (flags.authToken !== undefined || flags.authTokenFile !== undefined) {
    return {
      ...(flags.authToken !== undefined ? { authToken: flags.authToken } : {}),
      ...(flags.authTokenFile !== undefined ? { authTokenFile: flags.authTokenFile } : {}),
    }
  }
  const token = process.env.WHARF_AUTH_TOKEN
  const file = process.env.WHARF_AUTH_TOKEN_FILE
  return { ...(token ? { authToken: token } : {}), ...(file ? { authTokenFile: file } : {}) }
}

/** `wharf server`: the API (and later the studio) on an embedded SQLite database by default. */
export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('start the Wharf server (embedded SQLite and local folders unless told otherwise)')
    .option('--host <host>', 'address to listen on (env WHARF_HOST)', process.env.WHARF_HOST ?? '127.0.0.1')
    .option('--port <port>', 'port to listen on; 0 picks a free one (env WHARF_PORT)', process.env.WHARF_PORT ?? '5050')
    .option(
      '--data-dir <dir>',
      'folder for the database and the default datastores (env WHARF_HOME)',
      process.env.WHARF_HOME ?? '.wharf',
    )
    .option('--database-url <url>', 'keep metadata in PostgreSQL: postgres://user@host:5432/db (env WHARF_DATABASE_URL)')
    .option(
      '--auth-token <token>',
      'require this bearer token on every request (env WHARF_AUTH_TOKEN; other users see it in ps: prefer --auth-token-file)',
    )
    .option(
      '--auth-token-file <file>',
      'require the bearer token held in this file, read once at start (env WHARF_AUTH_TOKEN_FILE)',
    )
    .option(
      '--allowed-hosts <names>',
      'comma-separated host names the server answers besides localhost, 127.0.0.1 and [::1]; * for any (env WHARF_ALLOWED_HOSTS)',
    )
    .option('--log-requests', 'log every request to stderr')
    .addHelpText(
      'after',
      '\nExamples:\n  wharf server\n  wharf server --port 8080 --data-dir ~/wharf\n  WHARF_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wharf wharf server\n' +
        '\nDatastore settings (environment):\n' +
        '  WHARF_SECRET_KEY        base64 of 32 bytes encrypting stored credentials (default: secret.key, mode 0600, in the data folder)\n' +
        '  WHARF_FILESYSTEM_ROOTS  folders (":"-separated) filesystem datastores may be registered in, besides the data folder\n' +
        '  WHARF_BLOBSTORE         JSON registration making workspaceblobstore real storage in new workspaces, e.g.\n' +
        '                          {"kind":"azure_blob","accountName":"acct","containerName":"wharf","accountKey":"…"}\n' +
        '  WHARF_FILESTORE         the same for workspacefilestore\n' +
        '\nSubmitted runs (environment):\n' +
        "  WHARF_RUNNER_TIMEOUT_SECONDS  seconds a run's runner may stay silent before the run is failed (default 30)",
    )
    .action(async (flags: ServerFlags) => {
      // Loaded here, not at the top: the server and its database drivers cost every other command ~0.8 s.
      const { createLog, loadServerConfig, startServer } = await import('@wharf/server')
      const config = loadServerConfig({
        host: flags.host,
        port: parsePort(flags.port ?? '5050'),
        dataDir: path.resolve(flags.dataDir ?? '.wharf'),
        databaseUrl: flags.databaseUrl ?? process.env.WHARF_DATABASE_URL,
        ...authTokenSettings(flags),
        ...((flags.allowedHosts ?? process.env.WHARF_ALLOWED_HOSTS)
          ? {
              allowedHosts: (flags.allowedHosts ?? process.env.WHARF_ALLOWED_HOSTS ?? '')
                .split(',')
                .filter((h) => h.trim() !== ''),
            }
          : {}),
        logRequests: flags.logRequests === true,
        version: VERSION,
        ...(process.env.WHARF_SECRET_KEY ? { secretKey: process.env.WHARF_SECRET_KEY } : {}),
        ...(process.env.WHARF_FILESYSTEM_ROOTS
          ? { filesystemRoots: process.env.WHARF_FILESYSTEM_ROOTS.split(path.delimiter).filter((p) => p !== '') }
          : {}),
        ...(process.env.WHARF_BLOBSTORE ? { blobStore: process.env.WHARF_BLOBSTORE } : {}),
        ...(process.env.WHARF_FILESTORE ? { fileStore: process.env.WHARF_FILESTORE } : {}),
        ...(process.env.WHARF_RUNNER_TIMEOUT_SECONDS
          ? { runnerTimeoutSeconds: Number(process.env.WHARF_RUNNER_TIMEOUT_SECONDS) }
          : {}),
      })
      const log = createLog({ redact: config.authToken ? [config.authToken] : [] })
      const server = await startServer(config, { log })
      const where = server.store.kind === 'sqlite' ? `SQLite at ${path.join(config.dataDir, 'wharf.db')}` : 'PostgreSQL'
      process.stdout.write(
        `Wharf ${VERSION} is running at ${server.url}\n` +
          `  studio:   ${server.url}/\n` +
          `  API:      ${server.url}/api/v1 (OpenAPI: ${server.url}/api/v1/openapi.json)\n` +
          `  metadata: ${where}\n  data:     ${config.dataDir}\n` +
          `${config.authToken ? '  auth:     bearer token required\n' : ''}Press Ctrl+C to stop.\n`,
      )
      await new Promise<void>((resolve) => {
        let stopping = false
        const stop = (signal: string): void => {
          if (stopping) {
            log.warn(`second ${signal}: exiting without waiting`)
            process.exit(130)
          }
          stopping = true
          log.info(`${signal} received: finishing requests in flight, then stopping`)
          server.close().then(resolve, (error: unknown) => {
            log.error('error while stopping', { error })
            resolve()
          })
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
    })
}
