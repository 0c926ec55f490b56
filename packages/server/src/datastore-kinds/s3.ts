import { WharfError, printable } from '@wharf/contract'
import { createS3Driver } from '@wharf/datastores/cloud'
import {
  noStoredCredentials,
  nonEmpty,
  quotableEndpoint,
  refuseCredentials,
  setting,
  type Settings,
  type StorageKind,
  type StoredDatastore,
} from './kind.js'

/** The settings of an S3 datastore (the secret access key is sealed apart). */
export interface S3Settings {
  bucket: string
  region: string
  accessKeyId: string
  endpoint?: string
  forcePathStyle?: boolean
}

function s3Settings(record: StoredDatastore): S3Settings {
  const { endpoint, forcePathStyle } = record.settings
  return {
    bucket: setting(record, 'bucket'),
    region: setting(record, 'region'),
    accessKeyId: setting(record, 'accessKeyId'),
    ...(typeof endpoint === 'string' ? { endpoint } : {}),
    ...(typeof forcePathStyle === 'boolean' ? { forcePathStyle } : {}),
  }
}

/** An S3 (or S3-compatible) bucket, reached with an access key; clients always go through the server. */
export const s3Kind: StorageKind<'s3', S3Settings> = {
  plan(request) {
    const bucket = nonEmpty(request.bucket, 'bucket', 'the bucket name')
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `"${printable(bucket)}" is not a valid bucket name (3–63 lowercase letters, digits, "." and "-")`,
        {
          details: { field: 'bucket' },
        },
      )
    }
    const accessKeyId = nonEmpty(request.accessKeyId, 'accessKeyId', 'the access key id')
    const secretAccessKey = nonEmpty(request.secretAccessKey, 'secretAccessKey', 'the secret access key')
    const settings: Settings = { bucket, region: request.region?.trim() || 'us-east-1', accessKeyId }
    if (request.endpoint !== undefined && request.endpoint.trim() !== '') {
      const endpoint = request.endpoint.trim()
      refuseCredentials(endpoint, '"accessKeyId" and "secretAccessKey"')
      if (!/^https?:\/\/[^/?#@]+\/?$/i.test(endpoint)) {
        throw new WharfError(
          'INVALID_ARGUMENT',
          `the endpoint "${quotableEndpoint(endpoint)}" must be a URL like https://s3.example.com (no path, query or credentials)`,
          {
            details: { field: 'endpoint' },
          },
        )
      }
      settings.endpoint = endpoint.replace(/\/+$/, '')
    }
    if (request.forcePathStyle !== undefined) settings.forcePathStyle = request.forcePathStyle
    return { kind: 's3', settings, authType: 'access_key', secret: { secretAccessKey } }
  },
  settings: s3Settings,
  createDriver(record, context) {
    const secret = context.openSecret()
    if (!secret || !('secretAccessKey' in secret)) throw noStoredCredentials(record)
    const { accessKeyId, ...where } = s3Settings(record)
    return createS3Driver({ ...where, credentials: { accessKeyId, secretAccessKey: secret.secretAccessKey } })
  },
  access: () => ({ mode: 'proxy' }),
}
