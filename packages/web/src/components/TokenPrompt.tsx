import { useState, type FormEvent } from 'react'
import { useSession } from '../api/session.js'

/** Asks for the server's token once; it is kept for this tab only (sessionStorage) and sent as a bearer token. */
export function TokenPrompt() {
  const { needsToken, token, setToken } = useSession()
  const [value, setValue] = useState('')
  if (!needsToken) return null
  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (value.trim() !== '') setToken(value.trim())
  }
  return (
    <div className="modal-backdrop">
      <form className="modal card" onSubmit={submit} role="dialog" aria-modal="true" aria-labelledby="token-title">
        <h2 id="token-title">This server asks for a token</h2>
        <p className="muted">
          {token === undefined
            ? 'Enter the token the server was started with (WHARF_AUTH_TOKEN_FILE). It is kept for this tab only and never written to disk.'
            : 'The server refused the token kept for this tab. Enter the current one.'}
        </p>
        <label className="field">
          <span>Token</span>
          <input
            type="password"
            autoComplete="off"
            autoFocus
            value={value}
            onChange={(e) => setValue(e.target.value)}
            name="token"
          />
        </label>
        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={value.trim() === ''}>
            Use this token
          </button>
        </div>
      </form>
    </div>
  )
}
