import type { ReactNode } from 'react'
import { isWharfError } from '@wharf/contract'

/** Shown while a read is in flight: says what is being loaded. */
export function Loading(props: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  )
}

/** What to do about an error, by its code, when the server's message alone is not enough. */
function hintFor(error: unknown): string | undefined {
  if (!isWharfError(error)) return 'Reload the page; if it keeps failing, check that the Wharf server is running.'
  if (error.code === 'SERVER_UNREACHABLE')
    return 'Check that the Wharf server is running (npm start or wharf server), then retry.'
  if (error.code === 'UNAUTHENTICATED') return 'This server has auth on: enter the token it was started with.'
  if (error.code === 'FORBIDDEN') return 'The token you entered may not do this; ask for a workspace token.'
  return undefined
}

/** Shown when a read failed: the server's message, its code, what to do, and a retry button. */
export function ErrorState(props: { error: unknown; what: string; retry?: () => void }) {
  const { error } = props
  const message = error instanceof Error ? error.message : String(error)
  const code = isWharfError(error) ? error.code : undefined
  const hint = hintFor(error)
  return (
    <div className="state state-error" role="alert">
      <strong>Could not load {props.what}.</strong>
      <p>
        {message}
        {code !== undefined && <span className="code-tag">{code}</span>}
      </p>
      {hint !== undefined && <p className="muted">{hint}</p>}
      {props.retry && (
        <button type="button" className="btn" onClick={props.retry}>
          Retry
        </button>
      )}
    </div>
  )
}

/** Shown when there is nothing yet: says so and what would put something here. */
export function Empty(props: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <strong>{props.title}</strong>
      {props.children !== undefined && <div className="muted">{props.children}</div>}
    </div>
  )
}
