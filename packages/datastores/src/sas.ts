import {
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob'
import {
  SASProtocol as FileSASProtocol,
  ShareSASPermissions,
  StorageSharedKeyCredential as FileSharedKeyCredential,
  generateFileSASQueryParameters,
} from '@azure/storage-file-share'

/** What a delegated client may do: `read` lists and reads; `write` also creates and replaces. */
export type SasOperation = 'read' | 'write'

/** A SAS token limited to one container (or share) and one operation, and when it stops working. */
export interface MintedSas {
  sasToken: string
  expiresOn: Date
}

/** Options for {@link mintContainerSas}. */
export interface MintSasOptions {
  kind: 'azure_blob' | 'azure_file'
  accountName: string
  accountKey: string
  /** The blob container or the file share. */
  containerName: string
  operation: SasOperation
  /** How long the token works; 1 hour when absent. */
  lifetimeMs?: number
  /** Allow plain HTTP (an emulator on loopback); HTTPS only otherwise. */
  allowHttp?: boolean
  now?: Date
}

const DEFAULT_LIFETIME_MS = 60 * 60 * 1000
/** Tokens start a little in the past, so a client whose clock runs behind can use them at once. */
const CLOCK_SKEW_MS = 5 * 60 * 1000

/**
 * Signs a short-lived SAS for one container or share with the account key, so a client can move bytes
 * straight to Azure without ever seeing the key. No delete permission is ever granted.
 */
export function mintContainerSas(options: MintSasOptions): MintedSas {
  const now = options.now ?? new Date()
  const startsOn = new Date(now.getTime() - CLOCK_SKEW_MS)
  // The token carries its end in whole seconds; report that, not a later instant it does not honour.
  const expiresOn = new Date(Math.floor((now.getTime() + (options.lifetimeMs ?? DEFAULT_LIFETIME_MS)) / 1000) * 1000)
  const permissions = options.operation === 'read' ? 'rl' : 'rcwl'
  const { accountName, accountKey, containerName, allowHttp } = options
  const span = { startsOn, expiresOn }
  // Both SDKs sign alike; their permission and protocol types (and key credentials) are their own.
  const sasToken =
    options.kind === 'azure_blob'
      ? generateBlobSASQueryParameters(
          {
            ...span,
            containerName,
            permissions: ContainerSASPermissions.parse(permissions),
            protocol: allowHttp ? SASProtocol.HttpsAndHttp : SASProtocol.Https,
          },
          new StorageSharedKeyCredential(accountName, accountKey),
        )
      : generateFileSASQueryParameters(
          {
            ...span,
            shareName: containerName,
            permissions: ShareSASPermissions.parse(permissions),
            protocol: allowHttp ? FileSASProtocol.HttpsAndHttp : FileSASProtocol.Https,
          },
          new FileSharedKeyCredential(accountName, accountKey),
        )
  return { sasToken: sasToken.toString(), expiresOn }
}
