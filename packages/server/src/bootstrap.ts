import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { isWharfError, type Workspace } from '@wharf/contract'
import type { DatastoreRecord, MetadataStore } from '@wharf/store'
import { recordForRegistration, type RegistrationContext } from './datastores.js'
import type { ServerConfig } from './config.js'

/** The workspace every server starts with. */
export const DEFAULT_WORKSPACE = 'default'
/** The default datastore of every workspace, which also holds run artifacts. */
export const BLOB_STORE = 'workspaceblobstore'
/** The second datastore every workspace starts with. */
export const FILE_STORE = 'workspacefilestore'

/** The folder of a workspace's built-in datastore in the embedded setup. */
export function builtinDatastorePath(dataDir: string, workspace: string, datastore: string): string {
  return path.join(dataDir, 'workspaces', workspace, 'datastores', datastore)
}

/** What creating a workspace needs to know about its two built-in datastores. */
export interface BuiltinStores {
  dataDir: string
  /** Registrations that replace the local folders (server config `blobStore` / `fileStore`). */
  configured?: ServerConfig['builtinStores']
  /** Seals and validates configured registrations; required when `configured` names any. */
  context?: RegistrationContext
}

/**
 * Creates a workspace with `workspaceblobstore` (default, artifacts) and `workspacefilestore`: folders in
 * the data directory, or the storage the server config names (created if missing, validated).
 * WORKSPACE_EXISTS if the name is taken.
 */
export async function createWorkspaceWithDefaults(
  store: MetadataStore,
  options: { name: string } & BuiltinStores,
): Promise<Workspace> {
  const now = new Date().toISOString()
  const datastores: DatastoreRecord[] = []
  for (const name of [BLOB_STORE, FILE_STORE]) {
    const configured = name === BLOB_STORE ? options.configured?.blobStore : options.configured?.fileStore
    if (configured && options.context) {
      datastores.push(
        await recordForRegistration(options.name, { createIfNotExists: true, ...configured, name }, options.context),
      )
      continue
    }
    const folder = builtinDatastorePath(options.dataDir, options.name, name)
    await mkdir(folder, { recursive: true })
    datastores.push({
      workspace: options.name,
      name,
      kind: 'filesystem',
      settings: { path: folder },
      authType: 'none',
      secret: null,
      createdAt: now,
      updatedAt: now,
    })
  }
  return store.createWorkspace({
    name: options.name,
    defaultDatastore: BLOB_STORE,
    artifactDatastore: BLOB_STORE,
    createdAt: now,
    datastores,
  })
}

/** Makes sure the `default` workspace exists (idempotent, also when several servers start at once). */
export async function ensureDefaultWorkspace(store: MetadataStore, builtins: BuiltinStores): Promise<Workspace> {
  const existing = await store.findWorkspace(DEFAULT_WORKSPACE)
  if (existing) return existing
  try {
    return await createWorkspaceWithDefaults(store, { name: DEFAULT_WORKSPACE, ...builtins })
  } catch (error) {
    if (isWharfError(error, 'WORKSPACE_EXISTS')) return store.getWorkspace(DEFAULT_WORKSPACE)
    throw error
  }
}
