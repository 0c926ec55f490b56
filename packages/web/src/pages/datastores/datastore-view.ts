import { encodePath } from '@wharf/client'
import { ROUTES, routePath, type Datastore, type DatastoreKind } from '@wharf/contract'

/** How the studio names each storage kind. */
export const KIND_LABELS = {
  azure_blob: 'Azure Blob',
  azure_file: 'Azure Files',
  s3: 'S3',
  filesystem: 'Folder',
} as const satisfies Record<DatastoreKind, string>

/** How the studio names each way a datastore signs its requests (the server's `authType`). */
const AUTH_LABELS: Record<string, string> = {
  account_key: 'Account key',
  sas: 'SAS token',
  access_key: 'Access key',
  none: 'None',
}

/** The auth type as a reader says it; an auth type this studio does not know is shown as the server names it. */
export function authLabel(authType: string): string {
  return AUTH_LABELS[authType] ?? authType
}

/** Where a datastore's files are: what the place is called, its name, and the account or endpoint around it. */
export interface DatastoreWhere {
  what: 'container' | 'share' | 'bucket' | 'folder'
  name: string
  around: string | undefined
}

function text(settings: Datastore['settings'], key: string): string | undefined {
  const value = settings[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/**
 * Where a datastore's files are, read from the settings the server returns. Only the coordinates are
 * read by name, so nothing else a server might add to the settings is ever shown (secrets never are).
 */
export function whereOf(datastore: Datastore): DatastoreWhere {
  const { settings } = datastore
  switch (datastore.kind) {
    case 'azure_blob':
      return { what: 'container', name: text(settings, 'containerName') ?? '—', around: text(settings, 'serviceUrl') }
    case 'azure_file':
      return { what: 'share', name: text(settings, 'fileShareName') ?? '—', around: text(settings, 'serviceUrl') }
    case 's3': {
      const endpoint = text(settings, 'endpoint')
      const region = text(settings, 'region')
      return { what: 'bucket', name: text(settings, 'bucket') ?? '—', around: endpoint ?? (region && `region ${region}`) }
    }
    case 'filesystem':
      return { what: 'folder', name: text(settings, 'path') ?? '—', around: undefined }
  }
}

/** The server path that downloads one file of a datastore (for a DownloadLink). */
export function datastoreFileUrl(file: { workspace: string; datastore: string; path: string }): string {
  const base = routePath(ROUTES.downloadDatastoreFile.path, { workspace: file.workspace, datastore: file.datastore })
  return base.slice(0, -1) + encodePath(file.path)
}
