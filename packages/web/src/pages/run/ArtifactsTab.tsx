import { useMemo, useState } from 'react'
import { useSearchParams } from 'react-router'
import { isTerminalStatus, type Artifact, type Run } from '@wharf/contract'
import { useApiQuery } from '../../api/hooks.js'
import { formatBytes } from '../../components/format.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { ArtifactPreview } from './ArtifactPreview.js'
import { ancestorsOf, buildArtifactTree, findFolder, parentOf, type ArtifactFolder } from './artifact-tree.js'
import { PromoteForm } from './PromoteForm.js'
import './run.css'

/** Artifacts read per request, and the most the tab lists (a run with more says so). */
const PAGE_SIZE = 1000
const MAX_LISTED = 20_000
/** How often the list is read again while the run is live (it may still upload). */
const LIVE_ARTIFACTS_MS = 5000
/** Files a folder of the tree shows before a "show all" button. */
const FILES_SHOWN = 500

async function readArtifacts(options: {
  list: () => AsyncIterable<{ items: Artifact[] }>
}): Promise<{ items: Artifact[]; isTruncated: boolean }> {
  const items: Artifact[] = []
  for await (const page of options.list()) {
    items.push(...page.items)
    if (items.length >= MAX_LISTED) return { items: items.slice(0, MAX_LISTED), isTruncated: true }
  }
  return { items, isTruncated: false }
}

/** Run artifacts: a folder tree, the selected file's preview and download, and Promote; the selection is `?path=`. */
export function ArtifactsTab(props: { run: Run }) {
  const { run } = props
  const [search, setSearch] = useSearchParams()
  const selected = search.get('path') ?? ''
  const isPromoting = search.get('promote') === '1'
  const live = !isTerminalStatus(run.status)
  const listing = useApiQuery(
    ['artifacts', run.id],
    (client, signal) => readArtifacts({ list: () => client.listArtifacts(run.id, { pageSize: PAGE_SIZE, signal }).byPage() }),
    { refetchInterval: live ? LIVE_ARTIFACTS_MS : false },
  )
  const tree = useMemo(() => (listing.data ? buildArtifactTree(listing.data.items) : undefined), [listing.data])

  const update = (change: Record<string, string | undefined>) => {
    setSearch((current) => {
      const next = new URLSearchParams(current)
      for (const [key, value] of Object.entries(change)) {
        if (value === undefined || value === '') next.delete(key)
        else next.set(key, value)
      }
      return next
    })
  }

  if (listing.isPending) return <Loading what={`the artifacts of ${run.displayName}`} />
  if (listing.isError)
    return <ErrorState error={listing.error} what={`the artifacts of ${run.displayName}`} retry={() => void listing.refetch()} />
  if (tree === undefined || tree.fileCount === 0)
    return (
      <Empty title={live ? 'No artifacts yet: this run is still going.' : 'This run has no artifacts.'}>
        {live
          ? 'Files the run uploads (and a submitted run’s ./outputs and ./logs when it ends) appear here as they arrive.'
          : 'A run’s files appear here when it uploads them: run.uploadFile() in the SDK, or ./outputs of a submitted run.'}
      </Empty>
    )

  const file = listing.data.items.find((a) => a.path === selected)
  const folder = file === undefined ? findFolder(tree, selected) : undefined
  const promotePath = file !== undefined ? parentOf(file.path) || file.path : selected
  return (
    <div className="artifacts-layout">
      <nav className="artifact-tree card" aria-label="Artifact files">
        <div className="tree-summary muted">
          {tree.fileCount} {tree.fileCount === 1 ? 'file' : 'files'}, {formatBytes(tree.size)}
          {listing.data.isTruncated && ` (the first ${MAX_LISTED.toLocaleString()} are listed)`}
        </div>
        <ArtifactTree root={tree} selected={selected} onSelect={(path) => update({ path })} />
      </nav>
      <section className="artifact-detail" aria-label="Selected artifact">
        <div className="toolbar">
          <button
            type="button"
            className="btn"
            aria-expanded={isPromoting}
            onClick={() => update({ promote: isPromoting ? undefined : '1' })}
          >
            Promote to asset…
          </button>
        </div>
        {isPromoting && (
          <PromoteForm
            key={promotePath}
            runId={run.id}
            defaultPath={promotePath}
            onClose={() => update({ promote: undefined })}
          />
        )}
        {file !== undefined && <ArtifactPreview key={file.path} artifact={file} />}
        {folder !== undefined && <FolderSummary folder={folder} onSelect={(path) => update({ path })} />}
        {file === undefined && folder === undefined && (
          <Empty title={`There is no artifact "${selected}" in this run.`}>Pick a file or folder from the tree.</Empty>
        )}
      </section>
    </div>
  )
}

function FolderSummary(props: { folder: ArtifactFolder; onSelect: (path: string) => void }) {
  const { folder } = props
  return (
    <div className="folder-summary">
      <h2 className="mono">{folder.path === '' ? 'All artifacts' : `${folder.path}/`}</h2>
      <p className="muted">
        {folder.fileCount} {folder.fileCount === 1 ? 'file' : 'files'}, {formatBytes(folder.size)}. Pick a file to preview and
        download it{folder.path === '' ? '' : ', or promote the whole folder to an asset'}.
      </p>
      <ul className="run-plain-list">
        {folder.folders.map((sub) => (
          <li key={sub.path}>
            <button type="button" className="run-link-button" onClick={() => props.onSelect(sub.path)}>
              {sub.name}/
            </button>{' '}
            <span className="muted">
              {sub.fileCount} {sub.fileCount === 1 ? 'file' : 'files'}, {formatBytes(sub.size)}
            </span>
          </li>
        ))}
        {folder.files.map((file) => (
          <li key={file.path}>
            <button type="button" className="run-link-button" onClick={() => props.onSelect(file.path)}>
              {file.path.slice(file.path.lastIndexOf('/') + 1)}
            </button>{' '}
            <span className="muted">{formatBytes(file.size)}</span>
          </li>
        ))}
      </ul>
    </div>
  )
}

/** The folder tree; folders open and close, the selection's folders start open. */
function ArtifactTree(props: { root: ArtifactFolder; selected: string; onSelect: (path: string) => void }) {
  const { root, selected, onSelect } = props
  // Folders the user closed, and those opened beyond the defaults (the top level and the selection's folders).
  const [toggled, setToggled] = useState<ReadonlySet<string>>(() => new Set())
  const opened = useMemo(() => new Set(['', ...ancestorsOf(selected), selected]), [selected])
  const isOpen = (path: string) => (!path.includes('/') || opened.has(path)) !== toggled.has(path)
  const toggle = (path: string) =>
    setToggled((current) => {
      const next = new Set(current)
      if (next.has(path)) next.delete(path)
      else next.add(path)
      return next
    })
  return (
    <ul className="tree" role="list">
      <li>
        <button
          type="button"
          className={selected === '' ? 'tree-item selected' : 'tree-item'}
          aria-current={selected === '' ? 'true' : undefined}
          onClick={() => onSelect('')}
        >
          All artifacts
        </button>
        <FolderItems folder={root} selected={selected} onSelect={onSelect} isOpen={isOpen} toggle={toggle} />
      </li>
    </ul>
  )
}

function FolderItems(props: {
  folder: ArtifactFolder
  selected: string
  onSelect: (path: string) => void
  isOpen: (path: string) => boolean
  toggle: (path: string) => void
}) {
  const { folder, selected, onSelect, isOpen, toggle } = props
  // A folder of thousands of files renders its first ones until asked (the selected one always shows).
  const [shown, setShown] = useState(() => {
    const at = folder.files.findIndex((f) => f.path === selected)
    return Math.max(FILES_SHOWN, at + 1)
  })
  return (
    <ul className="tree-level" role="list">
      {folder.folders.map((sub) => {
        const open = isOpen(sub.path)
        return (
          <li key={sub.path}>
            <div className="tree-row">
              <button
                type="button"
                className="tree-toggle"
                aria-expanded={open}
                aria-label={`${open ? 'Close' : 'Open'} folder ${sub.path}`}
                onClick={() => toggle(sub.path)}
              >
                <span aria-hidden="true">{open ? '▾' : '▸'}</span>
              </button>
              <button
                type="button"
                className={selected === sub.path ? 'tree-item folder selected' : 'tree-item folder'}
                aria-current={selected === sub.path ? 'true' : undefined}
                onClick={() => onSelect(sub.path)}
              >
                {sub.name}/
              </button>
            </div>
            {open && <FolderItems folder={sub} selected={selected} onSelect={onSelect} isOpen={isOpen} toggle={toggle} />}
          </li>
        )
      })}
      {folder.files.slice(0, shown).map((file) => (
        <li key={file.path}>
          <div className="tree-row">
            <span className="tree-spacer" aria-hidden="true" />
            <button
              type="button"
              className={selected === file.path ? 'tree-item selected' : 'tree-item'}
              aria-current={selected === file.path ? 'true' : undefined}
              onClick={() => onSelect(file.path)}
              title={file.path}
            >
              {file.path.slice(file.path.lastIndexOf('/') + 1)}
              <span className="muted tree-size">{formatBytes(file.size)}</span>
            </button>
          </div>
        </li>
      ))}
      {folder.files.length > shown && (
        <li>
          <button type="button" className="run-link-button tree-more" onClick={() => setShown(folder.files.length)}>
            Show all {folder.files.length.toLocaleString()} files of {folder.path === '' ? 'the top level' : `${folder.path}/`}
          </button>
        </li>
      )}
    </ul>
  )
}
