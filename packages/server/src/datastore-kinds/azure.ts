import { WharfError, printable, type DatastoreAccess, type RegisterDatastoreRequest } from '@wharf/contract'
import type { DatastoreDriver } from '@wharf/datastores'
import { mintContainerSas, type AzureBlobCredential, type SasOperation } from '@wharf/datastores/cloud'
import {
  nonEmpty,
  quotableEndpoint,
  refuseCredentials,
  setting,
  noStoredCredentials,
  type KindContext,
  type PlannedDatastore,
  type Secret,
  type StorageKind,
  type StoredDatastore,
} from './kind.js'

// What the azure_blob and azure_file kinds share: an account, a container (or share) in it, a service
// URL, and an account key or SAS token; with the key, the server signs SAS tokens for clients.

/** The settings of an Azure datastore: `container` is the blob container or the file share. */
export interface AzureSettings {
  accountName: string
  serviceUrl: string
  container: string
}

/** How the two Azure kinds differ: the service, and the field naming the container or share. */
export interface AzureFlavour {
  kind: 'azure_blob' | 'azure_file'
  service: 'blob' | 'file'
  containerField: 'containerName' | 'fileShareName'
  /** `container` or `share`, in messages. */
  containerWord: string
  /** What the field holds, in messages: `the container name`. */
  fieldWhat: string
}

/**
 * The blob or file service URL of an Azure registration. `endpoint` is either a suffix
 * (`core.windows.net`, the default) or a full URL (Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
 */
export function azureServiceUrl(
  request: { accountName: string; endpoint?: string | undefined; protocol?: string | undefined },
  service: 'blob' | 'file',
): string {
  const endpoint = request.endpoint?.trim()
  if (endpoint !== undefined && /^[a-z]+:\/\//i.test(endpoint)) {
    refuseCredentials(endpoint, '"accountKey" or "sasToken"')
    let url: URL
    try {
      url = new URL(endpoint)
    } catch (cause) {
      throw new WharfError('INVALID_ARGUMENT', `the endpoint "${quotableEndpoint(endpoint)}" is not a URL`, {
        cause,
        details: { field: 'endpoint' },
      })
    }
    if (url.search !== '' || url.username !== '' || url.password !== '') {
      throw new WharfError(
        'INVALID_ARGUMENT',
        'the endpoint must not carry a query or credentials; pass the SAS token as "sasToken"',
        {
          details: { field: 'endpoint' },
        },
      )
    }
    return url.toString().replace(/\/+$/, '')
  }
  const suffix = endpoint === undefined || endpoint === '' ? 'core.windows.net' : endpoint.replace(/^\.+|\/+$/g, '')
  if (!/^[a-z0-9.-]+(:\d+)?$/i.test(suffix)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the endpoint "${quotableEndpoint(suffix)}" is neither a domain suffix like core.windows.net nor a URL`,
      {
        details: { field: 'endpoint' },
      },
    )
  }
  return `${request.protocol ?? 'https'}://${request.accountName}.${service}.${suffix}`
}

function azureSecret(request: { accountKey?: string | undefined; sasToken?: string | undefined }): {
  secret: Secret
  authType: string
} {
  const key = request.accountKey?.trim()
  const sas = request.sasToken?.trim().replace(/^\?/, '')
  if (key && sas) {
    throw new WharfError('INVALID_ARGUMENT', 'give either "accountKey" or "sasToken", not both', {
      details: { field: 'accountKey' },
    })
  }
  if (key) return { secret: { accountKey: key }, authType: 'account_key' }
  if (sas) return { secret: { sasToken: sas }, authType: 'sas' }
  throw new WharfError(
    'INVALID_ARGUMENT',
    'an Azure datastore needs credentials: "accountKey" or "sasToken" (identity-based access is not supported)',
    { details: { field: 'accountKey' } },
  )
}

type AzureRequest = Extract<RegisterDatastoreRequest, { kind: 'azure_blob' | 'azure_file' }>

/** Checks an Azure registration (account, container or share, endpoint, one credential) and splits it. */
export function planAzure(request: AzureRequest, flavour: AzureFlavour): PlannedDatastore {
  const accountName = nonEmpty(request.accountName, 'accountName', 'the storage account name')
  if (!/^[a-z0-9]{3,24}$/.test(accountName)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `"${printable(accountName)}" is not a storage account name (3–24 lowercase letters and digits)`,
      {
        details: { field: 'accountName' },
      },
    )
  }
  const field = flavour.containerField
  const given = 'containerName' in request ? request.containerName : request.fileShareName
  const container = nonEmpty(given, field, flavour.fieldWhat)
  if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `"${printable(container)}" is not a valid ${flavour.containerWord} name: 3–63 lowercase letters, digits and single hyphens`,
      {
        details: { field },
      },
    )
  }
  const serviceUrl = azureServiceUrl({ ...request, accountName }, flavour.service)
  const { secret, authType } = azureSecret(request)
  return { kind: flavour.kind, settings: { accountName, serviceUrl, [field]: container }, authType, secret }
}

/** The typed settings of a stored Azure datastore. */
export function azureSettings(record: StoredDatastore, flavour: AzureFlavour): AzureSettings {
  return {
    accountName: setting(record, 'accountName'),
    container: setting(record, flavour.containerField),
    serviceUrl: setting(record, 'serviceUrl'),
  }
}

/** The driver credential of a stored Azure datastore: its account key or its SAS token. */
export function azureCredential(record: StoredDatastore, secret: Secret | undefined): AzureBlobCredential {
  if (secret && 'accountKey' in secret) return { kind: 'key', accountKey: secret.accountKey }
  if (secret && 'sasToken' in secret) return { kind: 'sas', sasToken: secret.sasToken }
  throw noStoredCredentials(record)
}

/**
 * A SAS the server signs with the account key for one container or share and `operation`; through the
 * server (proxy) when it holds only a SAS token, which it never hands on.
 */
export function azureAccess(
  record: StoredDatastore,
  operation: SasOperation,
  options: { context: KindContext; flavour: AzureFlavour },
): DatastoreAccess {
  const { context, flavour } = options
  const secret = context.openSecret()
  if (!secret || !('accountKey' in secret)) return { mode: 'proxy' }
  const serviceUrl = setting(record, 'serviceUrl')
  const containerName = setting(record, flavour.containerField)
  const minted = mintContainerSas({
    kind: flavour.kind,
    accountName: setting(record, 'accountName'),
    accountKey: secret.accountKey,
    containerName,
    operation,
    allowHttp: serviceUrl.startsWith('http:'),
  })
  return {
    mode: 'azure_sas',
    kind: flavour.kind,
    accountName: setting(record, 'accountName'),
    containerName,
    serviceUrl,
    sasToken: minted.sasToken,
    expiresOn: minted.expiresOn.toISOString(),
  }
}

/** The module of one Azure kind, building its driver from the typed settings and the stored credential. */
export function azureKind<K extends 'azure_blob' | 'azure_file'>(
  flavour: AzureFlavour & { kind: K },
  driver: (settings: AzureSettings, credential: AzureBlobCredential) => DatastoreDriver,
): StorageKind<K, AzureSettings> {
  return {
    plan: (request) => planAzure(request, flavour),
    settings: (record) => azureSettings(record, flavour),
    createDriver(record, context) {
      const secret = context.openSecret()
      return driver(azureSettings(record, flavour), azureCredential(record, secret))
    },
    access: (record, operation, context) => azureAccess(record, operation, { context, flavour }),
  }
}
