import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { useMutation, useQueryClient, type UseMutationResult } from '@tanstack/react-query'
import { REGISTRY_TAGS, isWharfError, type AssetVersion, type UpdateAssetVersionRequest } from '@wharf/contract'
import { useSession } from '../../api/session.js'
import { parseTag, sortedTags, tagLabel } from './asset-view.js'

/** The registry's own tags (where the version came from): the server refuses changing them. */
const REGISTRY_TAG_KEYS: ReadonlySet<string> = new Set(Object.values(REGISTRY_TAGS))

/** One edit of the shown version at a time, and what the last one did (for the live region). */
export interface VersionEdit {
  update: UseMutationResult<AssetVersion, Error, UpdateAssetVersionRequest>
  announcement: string
  announce: (message: string) => void
}

/** How a refusal reads at the field: the server's message and its code. */
function refusalOf(error: Error): string {
  return isWharfError(error) ? `${error.message} (${error.code})` : error.message
}

/**
 * Edits the description and tags of one version (by its number, not the alias or `latest` it was
 * read by). A save counts as done once the page shows it: every read of this asset's versions (an
 * alias or `latest` may name this one), its versions list and the assets list (the latest description)
 * are read again first.
 */
export function useVersionEdit(version: AssetVersion): VersionEdit {
  const { client, workspace } = useSession()
  const queryClient = useQueryClient()
  const [announcement, announce] = useState('')
  const { name } = version
  const update = useMutation({
    mutationFn: (change: UpdateAssetVersionRequest) => {
      // Cleared first, so the same outcome twice is announced twice.
      announce('')
      return client.updateAssetVersion({ name, version: version.version }, change)
    },
    onSuccess: () =>
      queryClient.invalidateQueries({
        predicate: ({ queryKey: key }) =>
          key[0] === workspace &&
          key[2] === 'assets' &&
          (key.length === 3 || (key[3] === name && (key[4] === 'version' || key[4] === 'versions'))),
      }),
  })
  return { update, announcement, announce }
}

/** The description, and an editor for it (Escape or Cancel leaves it as it was). */
export function DescriptionEditor(props: { version: AssetVersion; edit: VersionEdit }) {
  const { version, edit } = props
  const { update } = edit
  const [draft, setDraft] = useState<string | undefined>()
  const [error, setError] = useState<string | undefined>()
  const editButton = useRef<HTMLButtonElement>(null)
  const field = useRef<HTMLTextAreaElement>(null)
  // Where focus goes when the editor opens or closes, set by what opened or closed it.
  const focusNext = useRef<'field' | 'button' | undefined>(undefined)
  const editing = draft !== undefined
  useEffect(() => {
    if (focusNext.current === 'field') field.current?.focus()
    if (focusNext.current === 'button') editButton.current?.focus()
    focusNext.current = undefined
  }, [editing])

  const close = () => {
    focusNext.current = 'button'
    setDraft(undefined)
    setError(undefined)
  }
  const save = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    if (draft === undefined) return
    const description = draft.trim()
    setError(undefined)
    update.mutate(
      { description },
      {
        onSuccess: () => {
          close()
          edit.announce(
            description === ''
              ? `The description of v${version.version} is cleared.`
              : `The description of v${version.version} is saved.`,
          )
        },
        onError: (failure) => setError(refusalOf(failure)),
      },
    )
  }
  const escape = (event: KeyboardEvent) => {
    if (event.key !== 'Escape' || event.nativeEvent.isComposing) return
    event.preventDefault()
    close()
  }

  if (!editing) {
    return (
      <div className="version-description">
        {version.description === '' ? (
          <span className="muted">none</span>
        ) : (
          <span className="version-description-text">{version.description}</span>
        )}
        <button
          ref={editButton}
          type="button"
          className="btn btn-small"
          disabled={update.isPending}
          onClick={() => {
            focusNext.current = 'field'
            setDraft(version.description)
          }}
        >
          Edit<span className="visually-hidden"> description</span>
        </button>
      </div>
    )
  }
  return (
    <form className="version-description-form" onSubmit={save} onKeyDown={escape}>
      <label>
        <span className="visually-hidden">Description of v{version.version}</span>
        <textarea
          ref={field}
          name="description"
          rows={3}
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
          aria-invalid={error !== undefined}
          aria-describedby="version-description-error"
        />
      </label>
      <p id="version-description-error" className="field-error" aria-live="assertive">
        {error}
      </p>
      <div className="version-edit-actions">
        <button type="submit" className="btn btn-primary btn-small" disabled={update.isPending}>
          {update.isPending ? 'Saving…' : 'Save'}
          <span className="visually-hidden"> description</span>
        </button>
        <button type="button" className="btn btn-small" onClick={close}>
          Cancel
        </button>
      </div>
    </form>
  )
}

/** The tags, each removable, and a form that sets one (`key=value`, or `key` for an empty value). */
export function TagEditor(props: { version: AssetVersion; edit: VersionEdit }) {
  const { version, edit } = props
  const { update } = edit
  const [draft, setDraft] = useState('')
  const [error, setError] = useState<string | undefined>()
  const field = useRef<HTMLInputElement>(null)
  const tags = sortedTags(version.tags)
  const at = `v${version.version}`

  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    // The server says the same; saying it here spares a round trip for a slip.
    const tag = parseTag(draft)
    if (tag === undefined) {
      setError('Write the tag as key=value, or key alone for a tag without a value.')
      return
    }
    if (tag.key === '') {
      setError(`"${draft.trim()}" has no key: write key=value, or key alone.`)
      return
    }
    setError(undefined)
    const before = version.tags[tag.key]
    update.mutate(
      { tags: { set: { [tag.key]: tag.value } } },
      {
        onSuccess: () => {
          setDraft('')
          edit.announce(
            before === undefined
              ? `Tag ${tagLabel(tag.key, tag.value)} is added to ${at}.`
              : `Tag ${tag.key} of ${at} changed from "${before}" to "${tag.value}".`,
          )
        },
        onError: (failure) => setError(refusalOf(failure)),
      },
    )
  }
  const remove = (key: string) => {
    setError(undefined)
    update.mutate(
      { tags: { remove: [key] } },
      {
        onSuccess: () => {
          edit.announce(`Tag ${key} is removed from ${at}.`)
          // The button pressed is gone: the tag field is the next place to act.
          field.current?.focus()
        },
        onError: (failure) => setError(`Tag ${key} was not removed: ${refusalOf(failure)}`),
      },
    )
  }

  return (
    <div className="version-tags">
      {tags.length === 0 ? (
        <span className="muted">none</span>
      ) : (
        <ul className="asset-tags" aria-label={`Tags of ${at}`}>
          {tags.map(([key, value]) => (
            <li key={key} className="badge">
              <span className="tag-text">{tagLabel(key, value)}</span>
              {/* The model registry's own tags (where the version came from) are kept by the server. */}
              {!REGISTRY_TAG_KEYS.has(key) && (
                <button
                  type="button"
                  className="tag-remove"
                  disabled={update.isPending}
                  onClick={() => remove(key)}
                  aria-label={`Remove tag ${key}`}
                  title={`Remove tag ${key}`}
                >
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form className="tag-form" onSubmit={add} noValidate>
        <label>
          <span className="visually-hidden">Tag to set on {at}</span>
          <input
            ref={field}
            type="text"
            name="tag"
            placeholder="key=value"
            autoComplete="off"
            spellCheck={false}
            value={draft}
            onChange={(event) => {
              setDraft(event.target.value)
              setError(undefined)
            }}
            aria-invalid={error !== undefined}
            aria-describedby="version-tag-error"
          />
        </label>
        <button type="submit" className="btn btn-small" disabled={update.isPending}>
          Add tag
        </button>
      </form>
      {/* Always in the page, so a screen reader announces the refusal put into it. */}
      <p id="version-tag-error" className="field-error" aria-live="assertive">
        {error}
      </p>
    </div>
  )
}
