import { WharfError, printable, type DatastoreAccess, type DatastoreKind, type RegisterDatastoreRequest } from '@wharf/contract'
import type { DatastoreDriver } from '@wharf/datastores'
import type { SasOperation } from '@wharf/datastores/cloud'
import type { DatastoreRecord } from '@wharf/store'

// What every storage kind's module provides, and the small checks they share.

/** The credentials of one datastore, as sealed in its record. Never sent anywhere. */
export type Secret = { accountKey: string } | { sasToken: string } | { secretAccessKey: string }

/** Non-secret settings of a registration, by kind (what reads show). */
export type Settings = Record<string, string | number | boolean>

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

/** A stored datastore as a kind reads it: its name (for errors) and its settings. */
export type StoredDatastore = Pick<DatastoreRecord, 'name' | 'settings'>

/** What a kind's driver and access need besides the record: the folder policy and the record's opened secret. */
export interface KindContext {
  policy: DatastorePolicy
  /** Opens the record's sealed secret (and masks it in the log); undefined when it has none. */
  openSecret: () => Secret | undefined
}

/**
 * One storage kind on the server: how a registration of it is checked and split into settings and
 * secret (`plan`), how its settings are read back typed, how its driver is built, and how a client is
 * given access to its bytes.
 */
export interface StorageKind<K extends DatastoreKind, S> {
  /** Checks a registration and splits it into settings and secret. Does no I/O except for folders. */
  plan: (
    request: Extract<RegisterDatastoreRequest, { kind: K }>,
    policy: DatastorePolicy,
  ) => PlannedDatastore | Promise<PlannedDatastore>
  /** The settings a record keeps, typed; DATASTORE_UNAVAILABLE when one is missing. */
  settings: (record: StoredDatastore) => S
  /** The driver of a datastore with these settings and this (opened) secret. */
  createDriver: (record: StoredDatastore, context: KindContext) => DatastoreDriver
  /** How a client reaches the datastore's bytes for `operation` (proxy: through the server). */
  access: (record: StoredDatastore, operation: SasOperation, context: KindContext) => DatastoreAccess | Promise<DatastoreAccess>
}

// `scheme://user:password@` (or `user@`): what an endpoint must not carry, and must never be echoed.
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i

/** An endpoint fit to quote in an error: without credentials it may carry, printable and cut short. */
export function quotableEndpoint(endpoint: string): string {
  return printable(endpoint.replace(USERINFO, '$1…@'))
}

/** INVALID_ARGUMENT for an endpoint with `user:password@`, naming the fields the credentials belong in. */
export function refuseCredentials(endpoint: string, keysField: string): void {
  if (USERINFO.test(endpoint)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the endpoint must not carry credentials (user:password@); give them as ${keysField}`,
      {
        details: { field: 'endpoint' },
      },
    )
  }
}

/** The trimmed value of a required field; INVALID_ARGUMENT naming the field when it is missing or blank. */
export function nonEmpty(value: string | undefined, field: string, what: string): string {
  if (value === undefined || value.trim() === '') {
    throw new WharfError('INVALID_ARGUMENT', `${what} is required (field "${field}")`, { details: { field } })
  }
  return value.trim()
}

/** A required text setting of a stored datastore; DATASTORE_UNAVAILABLE when the record lacks it. */
export function setting(record: StoredDatastore, name: string): string {
  const value = record.settings[name]
  if (typeof value !== 'string' || value === '') {
    throw new WharfError(
      'DATASTORE_UNAVAILABLE',
      `datastore "${record.name}" has no "${name}" in its settings; register it again with overwrite`,
    )
  }
  return value
}

/** DATASTORE_UNAVAILABLE for a record whose sealed secret is missing or of another kind. */
export function noStoredCredentials(record: StoredDatastore): WharfError {
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `datastore "${record.name}" has no stored credentials; register it again with overwrite`,
  )
}
