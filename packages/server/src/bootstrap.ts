import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, isWharfError, type Workspace } from '@wharf/contract'
import type { DatastoreRecord, MetadataStore } from '@wharf/store'
import { recordForRegistration, type RegistrationContext } from './datastores.js'
import type { ServerConfig } from './config.js'
import type { Log } from './log.js'
import type { SecretBox } from './secret-box.js'

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

/**
 * Refuses to start (INVALID_ARGUMENT) when the server's key does not open the credentials already stored:
 * a replica or restart with another key would otherwise start and answer 500 on every datastore request.
 * Opens one sealed secret; passes when none is stored yet. `keySource` names the key, never its value.
 */
export async function assertKeyOpensStoredSecrets(
  store: MetadataStore,
  options: { box: SecretBox; keySource: string },
): Promise<void> {
  for (const workspace of await store.listWorkspaces()) {
    const sealed = (await store.listDatastores(workspace.name)).find((record) => record.secret !== null)
    if (sealed?.secret == null) continue
    try {
      options.box.open(sealed.secret)
    } catch (cause) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `the secret key (${options.keySource}) does not open the credentials stored for datastore "${sealed.name}" in workspace ` +
          `"${workspace.name}": they were sealed with another key. Start this server with the key the others use (the same ` +
          'WHARF_SECRET_KEY on every replica, or the secret.key file the data folder had before); if that key is lost, start with ' +
          'it unset on an empty database, or register those datastores again',
        { cause, details: { field: 'secretKey' } },
      )
    }
    return
  }
}

/**
 * Warns when the metadata is shared (PostgreSQL) but a built-in datastore is a folder: its files land in
 * the data folder of whichever replica created it, and replicas on other machines would not see them.
 */
export async function warnLocalBuiltinsOnSharedStore(store: MetadataStore, log: Log): Promise<void> {
  if (store.kind !== 'postgres') return
  for (const workspace of await store.listWorkspaces()) {
    for (const record of await store.listDatastores(workspace.name)) {
      if ((record.name === BLOB_STORE || record.name === FILE_STORE) && record.kind === 'filesystem') {
        log.warn(
          `the metadata is in PostgreSQL but datastore "${record.name}" of workspace "${workspace.name}" is the local folder ` +
            `${String(record.settings.path)}: replicas on other machines will not see its files (run artifacts included). ` +
            'Set WHARF_BLOBSTORE / WHARF_FILESTORE to shared storage (Azure Blob, S3) before creating workspaces, or register ' +
            `shared storage and make it the default (wharf datastore set-default)`,
        )
      }
    }
  }
}
