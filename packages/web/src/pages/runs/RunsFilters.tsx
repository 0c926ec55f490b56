import { useState, type FormEvent } from 'react'
import { RUN_STATUSES, type RunStatus } from '@wharf/contract'
import type { Lineage, TableView } from './table-view.js'

/** The filter bar of the runs table: free text, statuses (any of), tags (all of), and which runs (roots, all, children of one). */
export function RunsFilters(props: {
  view: TableView
  statusCounts: ReadonlyMap<RunStatus, number>
  hasChildRuns: boolean
  parentName: string | undefined
  onText: (text: string) => void
  onStatuses: (statuses: RunStatus[]) => void
  onTags: (tags: string[]) => void
  onLineage: (lineage: Lineage) => void
  onClear: () => void
}) {
  const { view } = props
  const [tagDraft, setTagDraft] = useState('')
  const [tagError, setTagError] = useState<string | undefined>(undefined)
  const addTag = (event: FormEvent) => {
    event.preventDefault()
    const filter = tagDraft.trim()
    if (filter === '') return
    if (filter.startsWith('=')) {
      setTagError('A tag filter needs a key: write key or key=value.')
      return
    }
    setTagError(undefined)
    setTagDraft('')
    if (!view.tags.includes(filter)) props.onTags([...view.tags, filter])
  }
  const toggleStatus = (status: RunStatus) =>
    props.onStatuses(
      view.statuses.includes(status)
        ? view.statuses.filter((s) => s !== status)
        : RUN_STATUSES.filter((s) => s === status || view.statuses.includes(s)),
    )
  const filtering = view.text !== '' || view.statuses.length > 0 || view.tags.length > 0 || view.lineage.kind === 'childrenOf'
  return (
    <div className="runs-filters">
      <label className="filter-box">
        <span>Search</span>
        <input
          type="search"
          name="q"
          placeholder="name, id or tag"
          value={view.text}
          onChange={(event) => props.onText(event.target.value)}
        />
      </label>
      <details
        className="status-filter"
        onKeyDown={(event) => {
          // Escape closes the list and leaves the focus on its summary, as a menu would.
          if (event.key !== 'Escape' || !event.currentTarget.open) return
          event.currentTarget.open = false
          event.currentTarget.querySelector('summary')?.focus()
        }}
      >
        <summary>
          Status: <strong>{view.statuses.length === 0 ? 'any' : view.statuses.join(', ')}</strong>
        </summary>
        <fieldset>
          <legend className="visually-hidden">Show runs whose status is any of</legend>
          {RUN_STATUSES.map((status) => (
            <label key={status} className="check">
              <input
                type="checkbox"
                name="status"
                value={status}
                checked={view.statuses.includes(status)}
                onChange={() => toggleStatus(status)}
              />
              {status} <span className="muted">({props.statusCounts.get(status) ?? 0})</span>
            </label>
          ))}
        </fieldset>
      </details>
      <form className="tag-filter" onSubmit={addTag}>
        <label className="filter-box">
          <span>Tag</span>
          <input
            type="text"
            name="tag"
            placeholder="key or key=value"
            value={tagDraft}
            onChange={(event) => setTagDraft(event.target.value)}
            aria-invalid={tagError !== undefined}
            aria-describedby={tagError !== undefined ? 'tag-filter-error' : undefined}
          />
        </label>
        <button type="submit" className="btn" disabled={tagDraft.trim() === ''}>
          Add tag filter
        </button>
        {tagError !== undefined && (
          <span id="tag-filter-error" className="field-error" role="alert">
            {tagError}
          </span>
        )}
      </form>
      {props.hasChildRuns && view.lineage.kind !== 'childrenOf' && (
        <label className="filter-box">
          <span>Runs</span>
          <select
            name="children"
            value={view.lineage.kind}
            onChange={(event) => props.onLineage(event.target.value === 'all' ? { kind: 'all' } : { kind: 'roots' })}
          >
            <option value="roots">Top-level runs</option>
            <option value="all">All, with child runs</option>
          </select>
        </label>
      )}
      {(view.tags.length > 0 || view.lineage.kind === 'childrenOf') && (
        <ul className="filter-chips" aria-label="Active filters">
          {view.lineage.kind === 'childrenOf' && (
            <li>
              <button type="button" className="chip" onClick={() => props.onLineage({ kind: 'roots' })}>
                Child runs of {props.parentName ?? view.lineage.parentId} <span aria-hidden="true">×</span>
                <span className="visually-hidden"> (remove this filter)</span>
              </button>
            </li>
          )}
          {view.tags.map((tag) => (
            <li key={tag}>
              <button type="button" className="chip" onClick={() => props.onTags(view.tags.filter((t) => t !== tag))}>
                tag {tag} <span aria-hidden="true">×</span>
                <span className="visually-hidden"> (remove this filter)</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {filtering && (
        <button type="button" className="btn btn-link" onClick={props.onClear}>
          Clear filters
        </button>
      )}
    </div>
  )
}
