import type { DatastoreKind } from '@wharf/contract'
import { azureBlobKind } from './azure-blob.js'
import { azureFileKind } from './azure-file.js'
import { filesystemKind } from './filesystem.js'
import type { StorageKind } from './kind.js'
import { s3Kind } from './s3.js'

/** Every storage kind's module, by kind: the one place a new kind is added. */
export const STORAGE_KINDS = {
  azure_blob: azureBlobKind,
  azure_file: azureFileKind,
  s3: s3Kind,
  filesystem: filesystemKind,
} as const satisfies { [K in DatastoreKind]: StorageKind<K, unknown> }

export { azureServiceUrl } from './azure.js'
export type { DatastorePolicy, KindContext, PlannedDatastore, Secret, Settings, StorageKind } from './kind.js'
