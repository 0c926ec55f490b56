import { useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { DATASTORE_KINDS, isWharfError, type DatastoreKind } from '@wharf/contract'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'
import { KIND_LABELS } from './datastore-view.js'
import { AZURE_AUTHS, fieldOfError, requestOf, type AzureAuth, type FieldName, type FormShape } from './register-request.js'
import './datastores.css'
import { usePageTitle } from '../../components/page-title.js'

const AUTH_CHOICES: Record<AzureAuth, string> = { account_key: 'Account key', sas: 'SAS token' }

/** What each kind is, in a line under its choice. */
const KIND_HINTS: Record<DatastoreKind, string> = {
  azure_blob: 'A container of an Azure storage account (or Azurite).',
  azure_file: 'A file share of an Azure storage account.',
  s3: 'An S3 bucket, on AWS or an S3-compatible server.',
  filesystem: "A folder on the server's machine, inside the folders it serves.",
}

/** The kinds in the order the form offers them: cloud storage first, a folder last. */
const KIND_ORDER = ['azure_blob', 'azure_file', 's3', 'filesystem'] as const satisfies readonly DatastoreKind[]

function kindOf(value: string | null): DatastoreKind {
  return DATASTORE_KINDS.find((kind) => kind === value) ?? 'azure_blob'
}

function authOf(value: string | null): AzureAuth {
  return AZURE_AUTHS.find((auth) => auth === value) ?? 'account_key'
}

/** What the server said about the last attempt: at one field, or about the whole form. */
interface Refusal {
  field: FieldName | undefined
  message: string
  code: string | undefined
}

/**
 * Registers a datastore. The inputs follow the kind and, for Azure, the credential chosen (both in the
 * URL). Secrets are password inputs the page never renders a value into, so a key typed here is never in
 * the page's HTML; the server checks everything and its errors are shown at the field they name.
 */
export function RegisterDatastorePage() {
  usePageTitle('Register a datastore')
  const { client, workspace, token } = useSession()
  const [search, setSearch] = useSearchParams()
  const shape: FormShape = { kind: kindOf(search.get('kind')), auth: authOf(search.get('auth')) }
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const [refusal, setRefusal] = useState<Refusal | undefined>()

  const register = useMutation({
    mutationFn: (form: FormData) => client.registerDatastore(requestOf(shape, form)),
    onSuccess: async (datastore) => {
      await queryClient.invalidateQueries({ queryKey: [workspace, token ?? '', 'datastores'] })
      await navigate(paths.datastore(workspace, datastore.name))
    },
    onError: (error) => {
      const field = fieldOfError(error, shape)
      setRefusal({ field, message: error.message, code: isWharfError(error) ? error.code : undefined })
      // Keyboard and screen reader users land where the fix is.
      const target = field === undefined ? 'form-error' : `ds-${field}`
      requestAnimationFrame(() => document.getElementById(target)?.focus())
    },
  })

  const choose = (next: Partial<FormShape>) => {
    setRefusal(undefined)
    const { kind, auth } = { ...shape, ...next }
    setSearch(kind === 'azure_blob' || kind === 'azure_file' ? { kind, auth } : { kind }, { replace: true })
  }
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    setRefusal(undefined)
    register.mutate(new FormData(event.currentTarget))
  }
  const errorAt = (field: FieldName) => (refusal?.field === field ? refusal.message : undefined)
  const isAzure = shape.kind === 'azure_blob' || shape.kind === 'azure_file'

  return (
    <section className="ds-register">
      <div className="breadcrumb">
        <Link to={paths.datastores(workspace)}>Datastores</Link> / register
      </div>
      <h1>Register a datastore</h1>
      <p className="muted">
        The server checks that the storage is there and that the credentials work before it keeps them. Secrets are encrypted on
        the server and never shown again.
      </p>
      <form
        className="card ds-form"
        noValidate
        onSubmit={submit}
        onChange={(event) => {
          const target = event.target
          const name = target instanceof HTMLInputElement || target instanceof HTMLSelectElement ? target.name : undefined
          if (refusal?.field !== undefined && name === refusal.field) setRefusal(undefined)
        }}
        aria-describedby={refusal !== undefined && refusal.field === undefined ? 'form-error' : undefined}
      >
        <fieldset className="ds-kinds">
          <legend>Kind</legend>
          {KIND_ORDER.map((kind) => (
            <label key={kind} className={`ds-choice${shape.kind === kind ? ' chosen' : ''}`}>
              {/* Named by the kind alone; what the kind is comes as its description. */}
              <input
                type="radio"
                name="kind"
                value={kind}
                checked={shape.kind === kind}
                onChange={() => choose({ kind })}
                aria-labelledby={`kind-${kind}`}
                aria-describedby={`kind-${kind}-hint`}
              />
              <span>
                <strong id={`kind-${kind}`}>{KIND_LABELS[kind]}</strong>
                <span id={`kind-${kind}-hint`} className="muted">
                  {KIND_HINTS[kind]}
                </span>
              </span>
            </label>
          ))}
        </fieldset>

        <TextField name="name" label="Name" error={errorAt('name')} hint="Lowercase letters, digits and _, e.g. raw_images." />

        {isAzure && (
          <>
            <TextField
              name="accountName"
              label="Storage account"
              error={errorAt('accountName')}
              hint="3–24 lowercase letters and digits."
            />
            {shape.kind === 'azure_blob' ? (
              <TextField key="containerName" name="containerName" label="Container" error={errorAt('containerName')} />
            ) : (
              <TextField key="fileShareName" name="fileShareName" label="File share" error={errorAt('fileShareName')} />
            )}
            <fieldset className="ds-auth">
              <legend>Credential</legend>
              {AZURE_AUTHS.map((auth) => (
                <label key={auth} className="ds-inline">
                  <input type="radio" name="auth" value={auth} checked={shape.auth === auth} onChange={() => choose({ auth })} />{' '}
                  {AUTH_CHOICES[auth]}
                </label>
              ))}
            </fieldset>
            {/* Keyed, so switching credential starts an empty input: a key typed is never sent as a SAS token. */}
            {shape.auth === 'account_key' ? (
              <SecretField key="accountKey" name="accountKey" label="Account key" error={errorAt('accountKey')} />
            ) : (
              <SecretField
                key="sasToken"
                name="sasToken"
                label="SAS token"
                error={errorAt('sasToken')}
                hint="The query string of a SAS URL (sv=…&sig=…), with or without the leading ?."
              />
            )}
            <TextField
              name="endpoint"
              label="Endpoint"
              optional
              error={errorAt('endpoint')}
              hint="Empty for Azure (core.windows.net). A domain suffix for another cloud, or the full service URL of an emulator, e.g. http://127.0.0.1:10000/devstoreaccount1."
            />
            <div className="field">
              <label htmlFor="ds-protocol">Protocol</label>
              <select
                id="ds-protocol"
                name="protocol"
                defaultValue="https"
                aria-invalid={errorAt('protocol') !== undefined}
                aria-describedby="ds-protocol-hint"
              >
                <option value="https">https</option>
                <option value="http">http</option>
              </select>
              <small id="ds-protocol-hint" className="muted">
                Used with a domain suffix; a full endpoint URL carries its own.
              </small>
              <FieldError field="protocol" error={errorAt('protocol')} />
            </div>
          </>
        )}

        {shape.kind === 's3' && (
          <>
            <TextField name="bucket" label="Bucket" error={errorAt('bucket')} />
            <TextField name="accessKeyId" label="Access key id" error={errorAt('accessKeyId')} />
            <SecretField name="secretAccessKey" label="Secret access key" error={errorAt('secretAccessKey')} />
            <TextField name="region" label="Region" optional error={errorAt('region')} hint="us-east-1 when empty." />
            <TextField
              name="endpoint"
              label="Endpoint"
              optional
              error={errorAt('endpoint')}
              hint="For an S3-compatible server (MinIO, Ceph, an emulator): a URL like https://s3.example.com, without a path."
            />
            <CheckField
              name="forcePathStyle"
              label="Path-style addressing (https://host/bucket), as most S3-compatible servers need"
            />
          </>
        )}

        {shape.kind === 'filesystem' && (
          <TextField
            name="path"
            label="Folder path"
            error={errorAt('path')}
            hint="An absolute path on the server's machine, inside the folders the server serves (WHARF_FILESYSTEM_ROOTS)."
          />
        )}

        <fieldset className="ds-options">
          <legend>Options</legend>
          <CheckField name="createIfNotExists" label={`Create the ${placeWord(shape.kind)} if it does not exist`} />
          <CheckField
            name="skipValidation"
            label="Skip validation (register storage the server cannot reach now, e.g. behind a firewall)"
          />
          <CheckField
            name="overwrite"
            label="Replace an existing registration of this name (this is how credentials are rotated)"
          />
        </fieldset>

        {refusal !== undefined && refusal.field === undefined && (
          <div id="form-error" className="state state-error ds-form-error" role="alert" tabIndex={-1}>
            <strong>The datastore was not registered.</strong>
            <p>
              {refusal.message}
              {refusal.code !== undefined && <span className="code-tag">{refusal.code}</span>}
            </p>
          </div>
        )}
        {refusal?.field !== undefined && (
          <p className="visually-hidden" role="alert">
            The datastore was not registered: {refusal.message}
          </p>
        )}
        <div className="actions">
          <Link className="btn" to={paths.datastores(workspace)}>
            Cancel
          </Link>
          <button type="submit" className="btn btn-primary" disabled={register.isPending}>
            {register.isPending ? 'Registering…' : 'Register'}
          </button>
        </div>
      </form>
    </section>
  )
}

function placeWord(kind: DatastoreKind): string {
  switch (kind) {
    case 'azure_blob':
      return 'container'
    case 'azure_file':
      return 'share'
    case 's3':
      return 'bucket'
    case 'filesystem':
      return 'folder'
  }
}

function FieldError(props: { field: FieldName; error: string | undefined }) {
  if (props.error === undefined) return null
  return (
    <span id={`ds-${props.field}-error`} className="field-error" data-field-error={props.field}>
      {props.error}
    </span>
  )
}

function describedBy(field: FieldName, parts: { hint: boolean; error: boolean }): string | undefined {
  const ids = [parts.error ? `ds-${field}-error` : undefined, parts.hint ? `ds-${field}-hint` : undefined].filter(Boolean)
  return ids.length === 0 ? undefined : ids.join(' ')
}

function FieldFrame(props: {
  field: FieldName
  label: string
  optional?: boolean | undefined
  hint?: string | undefined
  error: string | undefined
  children: ReactNode
}) {
  // The label holds only the field's name; hint and error are tied to the input by aria-describedby.
  return (
    <div className="field">
      <label htmlFor={`ds-${props.field}`}>
        {props.label}
        {props.optional === true && <span className="muted ds-optional"> (optional)</span>}
      </label>
      {props.children}
      {props.hint !== undefined && (
        <small id={`ds-${props.field}-hint`} className="muted">
          {props.hint}
        </small>
      )}
      <FieldError field={props.field} error={props.error} />
    </div>
  )
}

/** A text input; uncontrolled, so what is typed stays in the input and is read on submit. */
function TextField(props: { name: FieldName; label: string; error: string | undefined; hint?: string; optional?: boolean }) {
  return (
    <FieldFrame field={props.name} label={props.label} hint={props.hint} error={props.error} optional={props.optional}>
      <input
        id={`ds-${props.name}`}
        name={props.name}
        type="text"
        autoComplete="off"
        spellCheck={false}
        aria-invalid={props.error !== undefined}
        aria-describedby={describedBy(props.name, { hint: props.hint !== undefined, error: props.error !== undefined })}
      />
    </FieldFrame>
  )
}

/**
 * A secret: a password input with no value attribute (uncontrolled), so the page never writes the secret
 * into its HTML, and password managers are told not to offer or keep it.
 */
function SecretField(props: { name: FieldName; label: string; error: string | undefined; hint?: string }) {
  return (
    <FieldFrame field={props.name} label={props.label} hint={props.hint} error={props.error}>
      <input
        id={`ds-${props.name}`}
        name={props.name}
        type="password"
        autoComplete="new-password"
        spellCheck={false}
        aria-invalid={props.error !== undefined}
        aria-describedby={describedBy(props.name, { hint: props.hint !== undefined, error: props.error !== undefined })}
      />
    </FieldFrame>
  )
}

function CheckField(props: { name: string; label: string }) {
  return (
    <label className="ds-inline ds-check">
      <input type="checkbox" name={props.name} /> {props.label}
    </label>
  )
}
