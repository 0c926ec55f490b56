import type { ReactNode } from 'react'
import { NavLink, useNavigate } from 'react-router'
import { useApiQuery } from '../api/hooks.js'
import { useSession } from '../api/session.js'
import { paths } from '../app/paths.js'
import { TokenPrompt } from './TokenPrompt.js'

/** The frame of every page: the header with its sections and the workspace, then the page. */
export function Layout(props: { children: ReactNode }) {
  const { workspace, needsToken } = useSession()
  return (
    <div className="app">
      {/* While the token is asked for, the page behind the dialog takes no focus or clicks. */}
      <div className="frame" inert={needsToken}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <NavLink to={paths.experiments(workspace)} className="brand" aria-label="Wharf studio home">
            Wharf
          </NavLink>
          <nav aria-label="Sections" className="sections">
            <NavLink to={paths.experiments(workspace)}>Experiments</NavLink>
            <NavLink to={paths.datastores(workspace)}>Datastores</NavLink>
            <NavLink to={paths.assets(workspace)}>Assets</NavLink>
          </nav>
          <WorkspacePicker />
        </header>
        <main id="main" className="page" tabIndex={-1}>
          {props.children}
        </main>
      </div>
      <TokenPrompt />
    </div>
  )
}

/** Switches workspace (the first part of every URL). */
function WorkspacePicker() {
  const { workspace } = useSession()
  const navigate = useNavigate()
  const workspaces = useApiQuery(['workspaces'], (client, signal) => client.listWorkspaces({ signal }))
  const names = workspaces.data?.map((w) => w.name) ?? [workspace]
  if (!names.includes(workspace)) names.unshift(workspace)
  return (
    <label className="workspace-picker">
      <span className="muted">Workspace</span>
      <select value={workspace} onChange={(e) => void navigate(paths.experiments(e.target.value))} name="workspace">
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  )
}
