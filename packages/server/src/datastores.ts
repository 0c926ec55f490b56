import { stat } from 'node:fs/promises'
import path from 'node:path'
import {
  NAME_RULES,
  WharfError,
  assertName,
  printable,
  type DatastoreAccess,
  type DatastoreKind,
  type RegisterDatastoreRequest,
} from '@wharf/contract'
import { assertFolderWithin, createFilesystemDriver, type DatastoreDriver } from '@wharf/datastores'
import { createAzureBlobDriver, createAzureFileDriver, createS3Driver, mintContainerSas, type SasOperation } from '@wharf/datastores/cloud'
import type { DatastoreRecord } from '@wharf/store'
import type { Log } from './log.js'
import type { SecretBox } from './secret-box.js'

/** The credentials of one datastore, as sealed in its record. Never sent anywhere. */
type Secret = { accountKey: string } | { sasToken: string } | { secretAccessKey: string }

/** Non-secret settings of a registration, by kind (what reads show). */
type Settings = Record<string, string | number | boolean>

/** A registration turned into what the store keeps, before sealing. */
export interface PlannedDatastore {
  kind: DatastoreKind
  settings: Settings
  authType: string
  secret: Secret | undefined
}

/** Which folders filesystem datastores may point into (links resolved, on every access). */
export interface DatastorePolicy {
  filesystemRoots: readonly string[]
}

// `scheme://user:password@` (or `user@`): what an endpoint must not carry, and must never be echoed.
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i

/** An endpoint fit to quote in an error: without credentials it may carry, printable and cut short. */
function quotableEndpoint(endpoint: string): string {
  return printable(endpoint.replace(USERINFO, '$1…@'))
}

function refuseCredentials(endpoint: string, keysField: string): void {
  if (USERINFO.test(endpoint)) {
    throw new WharfError('INVALID_ARGUMENT', `the endpoint must not carry credentials (user:password@); give them as ${keysField}`, {
      details: { field: 'endpoint' },
    })
  }
}

function nonEmpty(value: string | undefined, field: string, what: string): string {
  if (value === undefined || value.trim() === '') {
    throw new WharfError('INVALID_ARGUMENT', `${what} is required (field "${field}")`, { details: { field } })
  }
  return value.trim()
}

/**
 * The blob or file service URL of an Azure registration. `endpoint` is either a suffix
 * (`core.windows.net`, the default) or a full URL (Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
 */
export function azureServiceUrl(request: { accountName: string; endpoint?: string | undefined; protocol?: string | undefined }, service: 'blob' | 'file'): string {
  const endpoint = request.endpoint?.trim()
  if (endpoint !== undefined && /^[a-z]+:\/\//i.test(endpoint)) {
    refuseCredentials(endpoint, '"accountKey" or "sasToken"')
    let url: URL
    try {
      url = new URL(endpoint)
    } catch (cause) {
      throw new WharfError('INVALID_ARGUMENT', `the endpoint "${quotableEndpoint(endpoint)}" is not a URL`, { cause, details: { field: 'endpoint' } })
    }
    if (url.search !== '' || url.username !== '' || url.password !== '') {
      throw new WharfError('INVALID_ARGUMENT', 'the endpoint must not carry a query or credentials; pass the SAS token as "sasToken"', {
        details: { field: 'endpoint' },
      })
    }
    return url.toString().replace(/\/+$/, '')
  }
  const suffix = endpoint === undefined || endpoint === '' ? 'core.windows.net' : endpoint.replace(/^\.+|\/+$/g, '')
  if (!/^[a-z0-9.-]+(:\d+)?$/i.test(suffix)) {
    throw new WharfError('INVALID_ARGUMENT', `the endpoint "${quotableEndpoint(suffix)}" is neither a domain suffix like core.windows.net nor a URL`, {
      details: { field: 'endpoint' },
    })
  }
  return `${request.protocol ?? 'https'}://${request.accountName}.${service}.${suffix}`
}

function azureSecret(request: { accountKey?: string | undefined; sasToken?: string | undefined }): { secret: Secret; authType: string } {
  const key = request.accountKey?.trim()
  const sas = request.sasToken?.trim().replace(/^\?/, '')
  if (key && sas) {
    throw new WharfError('INVALID_ARGUMENT', 'give either "accountKey" or "sasToken", not both', { details: { field: 'accountKey' } })
  }
  if (key) return { secret: { accountKey: key }, authType: 'account_key' }
  if (sas) return { secret: { sasToken: sas }, authType: 'sas' }
  throw new WharfError(
    'INVALID_ARGUMENT',
    'an Azure datastore needs credentials: "accountKey" or "sasToken" (identity-based access is not supported)',
    { details: { field: 'accountKey' } },
  )
}

/** Checks a registration and splits it into settings and secret. Does no I/O except for folders. */
export async function planDatastore(request: RegisterDatastoreRequest, policy: DatastorePolicy): Promise<PlannedDatastore> {
  assertName(request.name, NAME_RULES.datastore)
  switch (request.kind) {
    case 'azure_blob':
    case 'azure_file': {
      const accountName = nonEmpty(request.accountName, 'accountName', 'the storage account name')
      if (!/^[a-z0-9]{3,24}$/.test(accountName)) {
        throw new WharfError('INVALID_ARGUMENT', `"${printable(accountName)}" is not a storage account name (3–24 lowercase letters and digits)`, {
          details: { field: 'accountName' },
        })
      }
      const container =
        request.kind === 'azure_blob'
          ? nonEmpty(request.containerName, 'containerName', 'the container name')
          : nonEmpty(request.fileShareName, 'fileShareName', 'the file share name')
      if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container)) {
        const field = request.kind === 'azure_blob' ? 'containerName' : 'fileShareName'
        throw new WharfError(
          'INVALID_ARGUMENT',
          `"${printable(container)}" is not a valid ${request.kind === 'azure_blob' ? 'container' : 'share'} name: 3–63 lowercase letters, digits and single hyphens`,
          { details: { field } },
        )
      }
      const serviceUrl = azureServiceUrl({ ...request, accountName }, request.kind === 'azure_blob' ? 'blob' : 'file')
      const { secret, authType } = azureSecret(request)
      const settings: Settings = { accountName, serviceUrl }
      if (request.kind === 'azure_blob') settings.containerName = container
      else settings.fileShareName = container
      return { kind: request.kind, settings, authType, secret }
    }
    case 's3': {
      const bucket = nonEmpty(request.bucket, 'bucket', 'the bucket name')
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
        throw new WharfError('INVALID_ARGUMENT', `"${printable(bucket)}" is not a valid bucket name (3–63 lowercase letters, digits, "." and "-")`, {
          details: { field: 'bucket' },
        })
      }
      const accessKeyId = nonEmpty(request.accessKeyId, 'accessKeyId', 'the access key id')
      const secretAccessKey = nonEmpty(request.secretAccessKey, 'secretAccessKey', 'the secret access key')
      const settings: Settings = { bucket, region: request.region?.trim() || 'us-east-1', accessKeyId }
      if (request.endpoint !== undefined && request.endpoint.trim() !== '') {
        const endpoint = request.endpoint.trim()
        refuseCredentials(endpoint, '"accessKeyId" and "secretAccessKey"')
        if (!/^https?:\/\/[^/?#@]+\/?$/i.test(endpoint)) {
          throw new WharfError('INVALID_ARGUMENT', `the endpoint "${quotableEndpoint(endpoint)}" must be a URL like https://s3.example.com (no path, query or credentials)`, {
            details: { field: 'endpoint' },
          })
        }
        settings.endpoint = endpoint.replace(/\/+$/, '')
      }
      if (request.forcePathStyle !== undefined) settings.forcePathStyle = request.forcePathStyle
      return { kind: 's3', settings, authType: 'access_key', secret: { secretAccessKey } }
    }
    case 'filesystem': {
      const given = nonEmpty(request.path, 'path', 'the folder path')
      if (!path.isAbsolute(given)) {
        throw new WharfError('INVALID_ARGUMENT', `the folder "${printable(given)}" must be an absolute path on the server's machine`, {
          details: { field: 'path' },
        })
      }
      const folder = path.resolve(given)
      // Where it leads, or where `mkdir -p` would put it when it does not exist yet.
      await assertFolderWithin(folder, policy.filesystemRoots)
      return { kind: 'filesystem', settings: { path: folder }, authType: 'none', secret: undefined }
    }
  }
}

function secretOf(record: DatastoreRecord, box: SecretBox, log: Log): Secret | undefined {
  if (record.secret === null) return undefined
  const secret = JSON.parse(box.open(record.secret)) as Secret
  for (const value of Object.values<string>(secret)) log.redact(value)
  return secret
}

function setting(record: Pick<DatastoreRecord, 'name' | 'settings'>, name: string): string {
  const value = record.settings[name]
  if (typeof value !== 'string' || value === '') {
    throw new WharfError('DATASTORE_UNAVAILABLE', `datastore "${record.name}" has no "${name}" in its settings; register it again with overwrite`)
  }
  return value
}

function azureCredential(record: DatastoreRecord, secret: Secret | undefined): { kind: 'key'; accountKey: string } | { kind: 'sas'; sasToken: string } {
  if (secret && 'accountKey' in secret) return { kind: 'key', accountKey: secret.accountKey }
  if (secret && 'sasToken' in secret) return { kind: 'sas', sasToken: secret.sasToken }
  throw new WharfError('DATASTORE_UNAVAILABLE', `datastore "${record.name}" has no stored credentials; register it again with overwrite`)
}

/** What building a driver needs: the secret box to open credentials, the log to mask them, the folder policy. */
export interface DriverContext {
  box: SecretBox
  log: Log
  policy: DatastorePolicy
}

/** Builds the driver for one datastore record, opening its credentials. */
export function createDriver(record: DatastoreRecord, context: DriverContext): DatastoreDriver {
  const secret = secretOf(record, context.box, context.log)
  switch (record.kind) {
    case 'filesystem':
      return createFilesystemDriver({ root: setting(record, 'path'), allowedRoots: context.policy.filesystemRoots })
    case 'azure_blob':
      return createAzureBlobDriver({
        accountName: setting(record, 'accountName'),
        containerName: setting(record, 'containerName'),
        endpoint: setting(record, 'serviceUrl'),
        credential: azureCredential(record, secret),
      })
    case 'azure_file':
      return createAzureFileDriver({
        accountName: setting(record, 'accountName'),
        shareName: setting(record, 'fileShareName'),
        endpoint: setting(record, 'serviceUrl'),
        credential: azureCredential(record, secret),
      })
    case 's3': {
      if (!secret || !('secretAccessKey' in secret)) {
        throw new WharfError('DATASTORE_UNAVAILABLE', `datastore "${record.name}" has no stored credentials; register it again with overwrite`)
      }
      const endpoint = record.settings.endpoint
      return createS3Driver({
        bucket: setting(record, 'bucket'),
        region: setting(record, 'region'),
        ...(typeof endpoint === 'string' ? { endpoint } : {}),
        ...(typeof record.settings.forcePathStyle === 'boolean' ? { forcePathStyle: record.settings.forcePathStyle } : {}),
        credentials: { accessKeyId: setting(record, 'accessKeyId'), secretAccessKey: secret.secretAccessKey },
      })
    }
  }
}

/**
 * How a client reaches the bytes of a datastore for `operation`: a SAS the server signs with the account
 * key (Azure, key auth), the folder itself (filesystem; the client checks device and inode to know it
 * sees the same one), or the server's file routes.
 */
export async function accessFor(
  record: DatastoreRecord,
  operation: SasOperation,
  context: DriverContext,
): Promise<DatastoreAccess> {
  switch (record.kind) {
    case 'azure_blob':
    case 'azure_file': {
      const secret = secretOf(record, context.box, context.log)
      if (!secret || !('accountKey' in secret)) return { mode: 'proxy' }
      const serviceUrl = setting(record, 'serviceUrl')
      const containerName = setting(record, record.kind === 'azure_blob' ? 'containerName' : 'fileShareName')
      const minted = mintContainerSas({
        kind: record.kind,
        accountName: setting(record, 'accountName'),
        accountKey: secret.accountKey,
        containerName,
        operation,
        allowHttp: serviceUrl.startsWith('http:'),
      })
      return {
        mode: 'azure_sas',
        kind: record.kind,
        accountName: setting(record, 'accountName'),
        containerName,
        serviceUrl,
        sasToken: minted.sasToken,
        expiresOn: minted.expiresOn.toISOString(),
      }
    }
    case 'filesystem': {
      const folder = setting(record, 'path')
      // The client would write there itself: never hand out a folder that now leads elsewhere.
      await assertFolderWithin(folder, context.policy.filesystemRoots)
      try {
        const info = await stat(folder)
        return { mode: 'filesystem', path: folder, device: info.dev, inode: info.ino }
      } catch {
        return { mode: 'proxy' }
      }
    }
    case 's3':
      return { mode: 'proxy' }
  }
}

/** Everything registering needs: how to seal and open secrets, the log, and the folder policy. */
export type RegistrationContext = DriverContext

/**
 * Turns a registration into the record the store keeps: checks it, seals its secret, and (unless
 * `skipValidation`) proves the storage is there and the credentials work, creating it when asked.
 */
export async function recordForRegistration(
  workspace: string,
  request: RegisterDatastoreRequest,
  context: RegistrationContext,
): Promise<DatastoreRecord> {
  const planned = await planDatastore(request, context.policy)
  if (planned.secret) for (const value of Object.values<string>(planned.secret)) context.log.redact(value)
  const now = new Date().toISOString()
  const record: DatastoreRecord = {
    workspace,
    name: request.name,
    kind: planned.kind,
    settings: planned.settings,
    authType: planned.authType,
    secret: planned.secret ? context.box.seal(JSON.stringify(planned.secret)) : null,
    createdAt: now,
    updatedAt: now,
  }
  if (request.skipValidation !== true) {
    const driver = createDriver(record, context)
    await driver.validate({ create: request.createIfNotExists === true })
  }
  return record
}
