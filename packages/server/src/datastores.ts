import { NAME_RULES, assertName, type DatastoreAccess, type RegisterDatastoreRequest } from '@wharf/contract'
import type { DatastoreDriver } from '@wharf/datastores'
import type { SasOperation } from '@wharf/datastores/cloud'
import type { DatastoreRecord } from '@wharf/store'
import {
  STORAGE_KINDS,
  type DatastorePolicy,
  type KindContext,
  type PlannedDatastore,
  type Secret,
} from './datastore-kinds/index.js'
import type { Log } from './log.js'
import type { SecretBox } from './secret-box.js'

export { azureServiceUrl } from './datastore-kinds/index.js'
export type { DatastorePolicy, PlannedDatastore } from './datastore-kinds/index.js'

/** Checks a registration and splits it into settings and secret. Does no I/O except for folders. */
export async function planDatastore(request: RegisterDatastoreRequest, policy: DatastorePolicy): Promise<PlannedDatastore> {
  assertName(request.name, NAME_RULES.datastore)
  // Each kind's plan takes its own request: the table is keyed by the request's kind.
  const plan = STORAGE_KINDS[request.kind].plan as (
    request: RegisterDatastoreRequest,
    policy: DatastorePolicy,
  ) => PlannedDatastore | Promise<PlannedDatastore>
  return plan(request, policy)
}

function secretOf(record: DatastoreRecord, box: SecretBox, log: Log): Secret | undefined {
  if (record.secret === null) return undefined
  const secret = JSON.parse(box.open(record.secret)) as Secret
  for (const value of Object.values<string>(secret)) log.redact(value)
  return secret
}

/** What building a driver needs: the secret box to open credentials, the log to mask them, the folder policy. */
export interface DriverContext {
  box: SecretBox
  log: Log
  policy: DatastorePolicy
}

function kindContext(record: DatastoreRecord, context: DriverContext): KindContext {
  return { policy: context.policy, openSecret: () => secretOf(record, context.box, context.log) }
}

/** Builds the driver for one datastore record, opening its credentials. */
export function createDriver(record: DatastoreRecord, context: DriverContext): DatastoreDriver {
  return STORAGE_KINDS[record.kind].createDriver(record, kindContext(record, context))
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
  return STORAGE_KINDS[record.kind].access(record, operation, kindContext(record, context))
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
