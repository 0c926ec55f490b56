import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { isWharfError, type Workspace } from '@wharf/contract'
import type { DatastoreRecord, MetadataStore } from '@wharf/store'

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

/**
 * Creates a workspace with `workspaceblobstore` (default, artifacts) and `workspacefilestore` as folders
 * in the data directory. WORKSPACE_EXISTS if the name is taken.
 */
export async function createWorkspaceWithDefaults(
  store: MetadataStore,
  options: { name: string; dataDir: string },
): Promise<Workspace> {
  const now = new Date().toISOString()
  const datastores: DatastoreRecord[] = []
  for (const name of [BLOB_STORE, FILE_STORE]) {
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
export async function ensureDefaultWorkspace(store: MetadataStore, dataDir: string): Promise<Workspace> {
  const existing = await store.findWorkspace(DEFAULT_WORKSPACE)
  if (existing) return existing
  try {
    return await createWorkspaceWithDefaults(store, { name: DEFAULT_WORKSPACE, dataDir })
  } catch (error) {
    if (isWharfError(error, 'WORKSPACE_EXISTS')) return store.getWorkspace(DEFAULT_WORKSPACE)
    throw error
  }
}
