import { isWharfError, type DatastoreKind, type RegisterDatastoreRequest } from '@wharf/contract'

// The register form's fields, how they become a RegisterDatastoreRequest, and which field an error of the
// server belongs to. Kept apart from the page so the mapping reads as one table.

/** Ways an Azure datastore can sign its requests (S3 always uses an access key, a folder none). */
export const AZURE_AUTHS = ['account_key', 'sas'] as const
export type AzureAuth = (typeof AZURE_AUTHS)[number]

/** Every input of the form, named as the request (and the server's errors) name them. */
export type FieldName =
  | 'name'
  | 'accountName'
  | 'containerName'
  | 'fileShareName'
  | 'accountKey'
  | 'sasToken'
  | 'endpoint'
  | 'protocol'
  | 'bucket'
  | 'region'
  | 'accessKeyId'
  | 'secretAccessKey'
  | 'forcePathStyle'
  | 'path'

/** What the form shows for a kind and auth: the inputs, in order. */
export interface FormShape {
  kind: DatastoreKind
  auth: AzureAuth
}

/** The inputs shown for a kind (and, for Azure, the chosen credential). */
export function fieldsOf(shape: FormShape): readonly FieldName[] {
  const credential = shape.auth === 'sas' ? 'sasToken' : 'accountKey'
  switch (shape.kind) {
    case 'azure_blob':
      return ['name', 'accountName', 'containerName', credential, 'endpoint', 'protocol']
    case 'azure_file':
      return ['name', 'accountName', 'fileShareName', credential, 'endpoint', 'protocol']
    case 's3':
      return ['name', 'bucket', 'accessKeyId', 'secretAccessKey', 'region', 'endpoint', 'forcePathStyle']
    case 'filesystem':
      return ['name', 'path']
  }
}

/** A text input's value, or undefined when left empty (the server then uses its default). */
function given(form: FormData, field: FieldName): string | undefined {
  const value = form.get(field)
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** Only the keys that have a value: the schema is strict and optional keys are better left out than empty. */
function defined<T extends Record<string, unknown>>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as T
}

/**
 * The registration the form describes. Text is sent as typed (the server trims and checks it, and says
 * which field is wrong); required fields left empty are sent empty so the server names them.
 */
export function requestOf(shape: FormShape, form: FormData): RegisterDatastoreRequest {
  const flags = {
    name: given(form, 'name') ?? '',
    createIfNotExists: form.get('createIfNotExists') === 'on' ? true : undefined,
    skipValidation: form.get('skipValidation') === 'on' ? true : undefined,
    overwrite: form.get('overwrite') === 'on' ? true : undefined,
  }
  const azure = {
    accountName: given(form, 'accountName') ?? '',
    ...(shape.auth === 'sas' ? { sasToken: given(form, 'sasToken') ?? '' } : { accountKey: given(form, 'accountKey') ?? '' }),
    endpoint: given(form, 'endpoint'),
    protocol: form.get('protocol') === 'http' ? ('http' as const) : undefined,
  }
  switch (shape.kind) {
    case 'azure_blob':
      return defined({ kind: 'azure_blob', ...flags, ...azure, containerName: given(form, 'containerName') ?? '' })
    case 'azure_file':
      return defined({ kind: 'azure_file', ...flags, ...azure, fileShareName: given(form, 'fileShareName') ?? '' })
    case 's3':
      return defined({
        kind: 's3',
        ...flags,
        bucket: given(form, 'bucket') ?? '',
        accessKeyId: given(form, 'accessKeyId') ?? '',
        secretAccessKey: given(form, 'secretAccessKey') ?? '',
        region: given(form, 'region'),
        endpoint: given(form, 'endpoint'),
        forcePathStyle: form.get('forcePathStyle') === 'on' ? true : undefined,
      })
    case 'filesystem':
      return defined({ kind: 'filesystem', ...flags, path: given(form, 'path') ?? '' })
  }
}

/** How the server names a field in `details.field` when it is not the request's own key. */
const SERVER_FIELD_ALIASES: Record<string, FieldName> = { 'datastore name': 'name' }

/**
 * The shown input a registration error belongs to, or undefined for an error of the whole form.
 *  - INVALID_ARGUMENT names its field in `details.field` (a body path like `credentials.accountKey` is read
 *    by its last key; the name rule says `datastore name`). The server points at `accountKey` when the
 *    credential is missing or doubled: with SAS chosen, that is the SAS input.
 *    The storage refusing a credential (FORBIDDEN from validation) names it the same way:
 *    `accountKey`, `sasToken` or `secretAccessKey`.
 *  - DATASTORE_EXISTS is about the name.
 */
export function fieldOfError(error: unknown, shape: FormShape): FieldName | undefined {
  if (!isWharfError(error)) return undefined
  const shown = fieldsOf(shape)
  const details = error.details ?? {}
  const pick = (field: FieldName): FieldName | undefined => {
    if (field === 'accountKey' && shape.auth === 'sas') field = 'sasToken'
    return shown.includes(field) ? field : undefined
  }
  const raw = typeof details.field === 'string' ? details.field : undefined
  if (raw !== undefined && raw !== '') {
    const last = raw.split('.').pop() ?? raw
    const named = SERVER_FIELD_ALIASES[raw] ?? SERVER_FIELD_ALIASES[last] ?? (isFieldName(last) ? last : undefined)
    return named === undefined ? undefined : pick(named)
  }
  if (error.code === 'DATASTORE_EXISTS') return 'name'
  return undefined
}

const FIELD_NAMES: ReadonlySet<string> = new Set<FieldName>([
  'name',
  'accountName',
  'containerName',
  'fileShareName',
  'accountKey',
  'sasToken',
  'endpoint',
  'protocol',
  'bucket',
  'region',
  'accessKeyId',
  'secretAccessKey',
  'forcePathStyle',
  'path',
])

function isFieldName(value: string): value is FieldName {
  return FIELD_NAMES.has(value)
}
