import { useState, type FormEvent } from 'react'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { NAME_RULES, isWharfError, type AssetAlias } from '@wharf/contract'
import { useSession } from '../../api/session.js'

/** What the last change did, or why it was refused. */
type Outcome = { kind: 'done'; message: string } | { kind: 'refused'; message: string }

/**
 * The aliases that point at one version of an asset, each removable, and a form that points an alias
 * at it (a new one, or one moved from another version). The server checks the name; its refusal is
 * shown at the field.
 */
export function AssetAliases(props: { name: string; version: number; aliases: readonly AssetAlias[] }) {
  const { name, version, aliases } = props
  const { client, workspace, token } = useSession()
  const queryClient = useQueryClient()
  const [draft, setDraft] = useState('')
  const [outcome, setOutcome] = useState<Outcome | undefined>()
  // The aliases, and every version read by alias (`?version=champion` now means another version, or none).
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: [workspace, token ?? '', 'assets', name, 'aliases'] }),
      queryClient.invalidateQueries({
        predicate: ({ queryKey: key }) =>
          key[0] === workspace && key[2] === 'assets' && key[3] === name && key[4] === 'version' && typeof key[5] === 'string',
      }),
    ])
  const refuse = (error: Error) =>
    setOutcome({ kind: 'refused', message: isWharfError(error) ? `${error.message} (${error.code})` : error.message })

  const point = useMutation({
    mutationFn: (alias: string) => client.setAssetAlias({ name, alias, version }),
    onSuccess: async (set) => {
      const before = aliases.find((a) => a.alias === set.alias)
      setDraft('')
      setOutcome({
        kind: 'done',
        message:
          before === undefined || before.version === set.version
            ? `@${set.alias} points at v${set.version}.`
            : `@${set.alias} moved from v${before.version} to v${set.version}.`,
      })
      await refresh()
    },
    onError: refuse,
  })
  const remove = useMutation({
    mutationFn: (alias: string) => client.deleteAssetAlias({ name, alias }),
    onSuccess: async ({ alias }) => {
      setOutcome({ kind: 'done', message: `@${alias} is removed; v${version} stays.` })
      await refresh()
    },
    onError: refuse,
  })

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    const alias = draft.trim()
    // The server says the same; saying it here spares a round trip for a typo.
    if (!NAME_RULES.assetAlias.pattern.test(alias)) {
      setOutcome({ kind: 'refused', message: `"${alias}" cannot be an alias: ${NAME_RULES.assetAlias.rule}.` })
      return
    }
    setOutcome(undefined)
    point.mutate(alias)
  }
  const mine = aliases.filter((a) => a.version === version)
  const refused = outcome?.kind === 'refused'
  return (
    <div className="asset-aliases">
      {mine.length === 0 ? (
        <span className="muted">none</span>
      ) : (
        <ul className="asset-tags" aria-label={`Aliases of v${version}`}>
          {mine.map((a) => (
            <li key={a.alias} className="badge alias-badge">
              @{a.alias}
              <button
                type="button"
                className="alias-remove"
                disabled={remove.isPending}
                onClick={() => remove.mutate(a.alias)}
                aria-label={`Remove alias ${a.alias}`}
                title={`Remove alias ${a.alias}`}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="alias-form" onSubmit={submit}>
        <label>
          <span className="visually-hidden">Alias to point at v{version}</span>
          <input
            type="text"
            name="alias"
            placeholder="alias, e.g. champion"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            aria-invalid={refused}
            aria-describedby="alias-outcome"
          />
        </label>
        <button type="submit" className="btn btn-small" disabled={draft.trim() === '' || point.isPending}>
          Point at v{version}
        </button>
      </form>
      {/* Always in the page, so a screen reader announces the text put into it. */}
      <p
        id="alias-outcome"
        className={`alias-outcome ${refused ? 'field-error' : 'muted'}`}
        role="status"
        aria-live={refused ? 'assertive' : 'polite'}
      >
        {outcome?.message}
      </p>
    </div>
  )
}
