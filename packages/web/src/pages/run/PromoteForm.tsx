import { useId, useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { isWharfError, type AssetVersion } from '@wharf/contract'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'

/** The fields of the promote form, and where the server's refusals are shown. */
type Field = 'name' | 'description' | 'tags' | 'artifactPath'

/**
 * Which field a server refusal is about: the error's `details.field` (`asset name`, `tag`), its
 * `details.limit`, or its code for a path the run does not hold; `form` for the rest.
 */
export function fieldOfError(error: unknown): Field | 'form' {
  if (!isWharfError(error)) return 'form'
  const details = error.details ?? {}
  const field = typeof details.field === 'string' ? details.field : undefined
  const limit = typeof details.limit === 'string' ? details.limit : undefined
  if (field === 'asset name' || field === 'name') return 'name'
  if (field === 'tag' || limit === 'tagsPerRun' || limit === 'keyLength' || limit === 'valueLength') return 'tags'
  if (limit === 'descriptionLength') return 'description'
  if (limit === 'artifactPathLength' || error.code === 'UNSAFE_PATH' || error.code === 'ARTIFACT_NOT_FOUND') return 'artifactPath'
  return 'form'
}

/** `key=value` pairs, one a line; a line without `=` is a tag with an empty value. */
function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (trimmed === '') continue
    const eq = trimmed.indexOf('=')
    if (eq < 0) tags[trimmed] = ''
    else tags[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim()
  }
  return tags
}

/**
 * Promotes a run's artifact or folder to the next version of a named asset. The server checks
 * everything; its refusal is shown at the field it is about.
 */
export function PromoteForm(props: { runId: string; defaultPath: string; onClose: () => void }) {
  const { client, workspace } = useSession()
  const id = useId()
  const [values, setValues] = useState<Record<Field, string>>({
    name: '',
    description: '',
    tags: '',
    artifactPath: props.defaultPath,
  })
  const [error, setError] = useState<{ field: Field | 'form'; message: string; code?: string } | undefined>()
  const [busy, setBusy] = useState(false)
  const [created, setCreated] = useState<AssetVersion | undefined>()

  const submit = (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(undefined)
    setCreated(undefined)
    const tags = parseTags(values.tags)
    client
      .promoteAsset({
        name: values.name.trim(),
        runId: props.runId,
        artifactPath: values.artifactPath.trim(),
        ...(values.description.trim() !== '' ? { description: values.description.trim() } : {}),
        ...(Object.keys(tags).length > 0 ? { tags } : {}),
      })
      .then(setCreated)
      .catch((failure: unknown) => {
        setError({
          field: fieldOfError(failure),
          message: failure instanceof Error ? failure.message : String(failure),
          ...(isWharfError(failure) ? { code: failure.code } : {}),
        })
      })
      .finally(() => setBusy(false))
  }

  const set = (field: Field) => (event: { target: { value: string } }) =>
    setValues((current) => ({ ...current, [field]: event.target.value }))
  const errorAt = (field: Field) =>
    error?.field === field ? (
      <span className="field-error" id={`${id}-${field}-error`} role="alert">
        {error.message}
      </span>
    ) : null
  const invalid = (field: Field) =>
    error?.field === field ? { 'aria-invalid': true as const, 'aria-describedby': `${id}-${field}-error` } : {}

  return (
    <form className="card promote-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Promote to an asset</h2>
      <p className="muted">
        Makes the artifact or folder below the next version of a named asset (version 1 for a new name). A finished run's files
        are shared; a live run's are copied.
      </p>
      <label className="field">
        <span>Asset name</span>
        <input name="name" value={values.name} onChange={set('name')} required autoComplete="off" {...invalid('name')} />
        <span className="muted field-hint">Letters, digits, “_”, “-” or “.”, starting with a letter or digit.</span>
        {errorAt('name')}
      </label>
      <label className="field">
        <span>Artifact or folder</span>
        <input
          name="artifactPath"
          className="mono"
          value={values.artifactPath}
          onChange={set('artifactPath')}
          required
          {...invalid('artifactPath')}
        />
        {errorAt('artifactPath')}
      </label>
      <label className="field">
        <span>Description</span>
        <textarea
          name="description"
          rows={2}
          value={values.description}
          onChange={set('description')}
          {...invalid('description')}
        />
        {errorAt('description')}
      </label>
      <label className="field">
        <span>Tags</span>
        <textarea
          name="tags"
          rows={2}
          className="mono"
          placeholder="stage=candidate"
          value={values.tags}
          onChange={set('tags')}
          {...invalid('tags')}
        />
        <span className="muted field-hint">One key=value a line.</span>
        {errorAt('tags')}
      </label>
      {error?.field === 'form' && (
        <p className="field-error" role="alert">
          {error.message}
          {error.code !== undefined && <span className="code-tag">{error.code}</span>}
        </p>
      )}
      {created !== undefined && (
        <p className="promote-done" role="status">
          Created{' '}
          <Link to={paths.asset(workspace, created.name, created.version)}>
            {created.name} version {created.version}
          </Link>{' '}
          with {created.fileCount} {created.fileCount === 1 ? 'file' : 'files'}.
        </p>
      )}
      <div className="actions">
        <button type="button" className="btn" onClick={props.onClose}>
          Close
        </button>
        <button type="submit" className="btn btn-primary" disabled={busy || values.name.trim() === ''}>
          {busy ? 'Promoting…' : 'Promote'}
        </button>
      </div>
    </form>
  )
}
