export { createApp, toErrorResponse } from './app.js'
export { loadServerConfig, isLoopbackHost, type ServerConfig, type ServerConfigInput } from './config.js'
export { startServer, storeConfigOf, type RunningServer, type StartServerOptions } from './server.js'
export { createLog, LOG_LEVELS, type Log, type LogLevel } from './log.js'
export {
  DEFAULT_WORKSPACE,
  BLOB_STORE,
  FILE_STORE,
  builtinDatastorePath,
  createWorkspaceWithDefaults,
  ensureDefaultWorkspace,
} from './bootstrap.js'
export { createDriverRegistry, type DriverRegistry } from './driver-registry.js'
export { createDriver, azureServiceUrl, type DriverContext } from './datastores.js'
export type { AppDeps } from './deps.js'
export { createSecretBox, loadSecretKey, SECRET_KEY_FILE, type SecretBox } from './secret-box.js'
