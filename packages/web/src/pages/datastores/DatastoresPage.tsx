import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { isWharfError, type Datastore } from '@wharf/contract'
import { useApiQuery } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'
import { paths } from '../../app/paths.js'
import { Empty, ErrorState, Loading } from '../../components/States.js'
import { KIND_LABELS, authLabel, whereOf } from './datastore-view.js'
import './datastores.css'
import { usePageTitle } from '../../components/page-title.js'

/** The datastores of the workspace: kind, default, auth type and where the files are; set default, unregister. */
export function DatastoresPage() {
  usePageTitle('Datastores')
  const { client, workspace, token } = useSession()
  const datastores = useApiQuery(['datastores'], (client, signal) => client.listDatastores({ signal }))
  const queryClient = useQueryClient()
  const refresh = () => queryClient.invalidateQueries({ queryKey: [workspace, token ?? '', 'datastores'] })
  const [confirming, setConfirming] = useState<string | undefined>()
  const [done, setDone] = useState<string | undefined>()

  const setDefault = useMutation({
    mutationFn: (name: string) => client.setDefaultDatastore(name),
    onSuccess: async (_workspace, name) => {
      setDone(`"${name}" is now the default datastore of workspace "${workspace}".`)
      await refresh()
    },
  })
  const unregister = useMutation({
    mutationFn: (name: string) => client.unregisterDatastore(name),
    onSuccess: async (_nothing, name) => {
      setConfirming(undefined)
      setDone(`"${name}" is unregistered; its storage and files are left as they were.`)
      await refresh()
    },
  })

  return (
    <section className="datastores-page">
      <div className="page-header">
        <h1>Datastores</h1>
        <Link className="btn btn-primary" to={paths.registerDatastore(workspace)}>
          Register a datastore
        </Link>
      </div>
      <p className="muted">
        Storage registered in workspace <strong>{workspace}</strong>. Credentials stay on the server: only the kind of credential
        is shown here.
      </p>
      {setDefault.error !== null && (
        <ActionError title={`Could not make "${setDefault.variables ?? ''}" the default.`} error={setDefault.error} />
      )}
      {done !== undefined && (
        <p className="ds-notice" role="status">
          {done}
        </p>
      )}
      {datastores.isPending ? (
        <Loading what="the datastores" />
      ) : datastores.isError ? (
        <ErrorState error={datastores.error} what="the datastores" retry={() => void datastores.refetch()} />
      ) : datastores.data.length === 0 ? (
        <Empty title="No datastore is registered in this workspace.">
          <Link to={paths.registerDatastore(workspace)}>Register one</Link>, or with the CLI:{' '}
          <code>wharf datastore register azure-blob …</code>
        </Empty>
      ) : (
        <div className="table-scroll">
          <table className="data ds-table" aria-label={`Datastores of workspace ${workspace}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Auth</th>
                <th scope="col">Where</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {datastores.data.map((datastore) => (
                <DatastoreRow
                  key={datastore.name}
                  datastore={datastore}
                  busy={setDefault.isPending || unregister.isPending}
                  onSetDefault={() => {
                    setDone(undefined)
                    unregister.reset()
                    setDefault.mutate(datastore.name)
                  }}
                  onUnregister={() => {
                    setDone(undefined)
                    setDefault.reset()
                    unregister.reset()
                    setConfirming(datastore.name)
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {confirming !== undefined && (
        <ConfirmUnregister
          name={confirming}
          pending={unregister.isPending}
          onConfirm={() => unregister.mutate(confirming)}
          onCancel={() => {
            setConfirming(undefined)
            unregister.reset()
          }}
          error={unregister.error}
        />
      )}
    </section>
  )
}

function DatastoreRow(props: { datastore: Datastore; busy: boolean; onSetDefault: () => void; onUnregister: () => void }) {
  const { datastore } = props
  const { workspace } = useSession()
  const where = whereOf(datastore)
  return (
    <tr data-datastore={datastore.name}>
      <th scope="row">
        <Link to={paths.datastore(workspace, datastore.name)}>{datastore.name}</Link>
        {datastore.isDefault && (
          <span className="badge ds-default" title="The workspace's default datastore">
            default
          </span>
        )}
      </th>
      <td>{KIND_LABELS[datastore.kind]}</td>
      <td>{authLabel(datastore.authType)}</td>
      <td className="ds-where">
        <span className="muted">{where.what} </span>
        <span className="mono">{where.name}</span>
        {where.around !== undefined && <div className="muted mono ds-around">{where.around}</div>}
      </td>
      <td>
        <div className="ds-actions">
          <button
            type="button"
            className="btn"
            disabled={datastore.isDefault || props.busy}
            onClick={props.onSetDefault}
            aria-label={`Make ${datastore.name} the default datastore`}
          >
            Make default
          </button>
          <button
            type="button"
            className="btn btn-danger"
            disabled={props.busy}
            onClick={props.onUnregister}
            aria-label={`Unregister ${datastore.name}`}
          >
            Unregister
          </button>
        </div>
      </td>
    </tr>
  )
}

/** Asks before unregistering; the server may still refuse (the artifact store, the default), and says why. */
function ConfirmUnregister(props: {
  name: string
  pending: boolean
  error: Error | null
  onConfirm: () => void
  onCancel: () => void
}) {
  const cancelRef = useRef<HTMLButtonElement>(null)
  useEffect(() => cancelRef.current?.focus(), [props.name])
  const { onCancel } = props
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onCancel()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onCancel])
  return (
    <div className="modal-backdrop">
      <div className="modal card" role="dialog" aria-modal="true" aria-labelledby="unregister-title">
        <h2 id="unregister-title">Unregister “{props.name}”?</h2>
        <p>
          The registration and its stored credentials are removed. The storage and its files are not touched: register it again to
          use it.
        </p>
        {props.error !== null && <ActionError title={`Could not unregister "${props.name}".`} error={props.error} />}
        <div className="actions">
          <button type="button" className="btn" ref={cancelRef} onClick={props.onCancel}>
            Cancel
          </button>
          <button type="button" className="btn btn-danger" disabled={props.pending} onClick={props.onConfirm}>
            {props.pending ? 'Unregistering…' : 'Unregister'}
          </button>
        </div>
      </div>
    </div>
  )
}

/** An action that failed: what was tried, then the server's own message and code. */
function ActionError(props: { title: string; error: Error }) {
  return (
    <div className="state state-error ds-action-error" role="alert">
      <strong>{props.title}</strong>
      <p>
        {props.error.message}
        {isWharfError(props.error) && <span className="code-tag">{props.error.code}</span>}
      </p>
    </div>
  )
}
