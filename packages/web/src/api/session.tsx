import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react'
import { WharfClient } from '@wharf/client'
import { isWharfError } from '@wharf/contract'

/** Where the studio keeps the token: this tab only (sessionStorage), never beyond it. */
const TOKEN_KEY = 'wharf.token'

interface Session {
  /** A client on the server that served the studio, acting on the workspace in the URL. */
  client: WharfClient
  workspace: string
  /** Set when the server answered UNAUTHENTICATED: the token prompt shows until a token works. */
  needsToken: boolean
  /** The token kept for this tab, if any (for downloads that cannot be plain links). */
  token: string | undefined
  /** Keeps a token for this tab and retries what failed. */
  setToken: (token: string | undefined) => void
  /** Called by queries that failed: asks for a token when the server wants one. */
  noteError: (error: unknown) => void
}

const SessionContext = createContext<Session | undefined>(undefined)

function readStoredToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined
  } catch {
    return undefined // storage disabled: the token lives in memory for this page
  }
}

/** Provides the client for one workspace; the token (when the server has auth on) is asked for once per tab. */
export function SessionProvider(props: { workspace: string; children: ReactNode; onTokenChange?: () => void }) {
  const { workspace, onTokenChange } = props
  const [token, setTokenState] = useState<string | undefined>(readStoredToken)
  const [needsToken, setNeedsToken] = useState(false)
  const client = useMemo(
    () => new WharfClient({ url: window.location.origin, workspace, ...(token !== undefined ? { token } : {}) }),
    [workspace, token],
  )
  const setToken = useCallback(
    (next: string | undefined) => {
      try {
        if (next === undefined) sessionStorage.removeItem(TOKEN_KEY)
        else sessionStorage.setItem(TOKEN_KEY, next)
      } catch {
        // storage disabled: keep it in memory only
      }
      setTokenState(next)
      setNeedsToken(false)
      onTokenChange?.()
    },
    [onTokenChange],
  )
  const noteError = useCallback((error: unknown) => {
    if (isWharfError(error) && error.code === 'UNAUTHENTICATED') setNeedsToken(true)
  }, [])
  const value = useMemo(
    () => ({ client, workspace, needsToken, token, setToken, noteError }),
    [client, workspace, needsToken, token, setToken, noteError],
  )
  return <SessionContext.Provider value={value}>{props.children}</SessionContext.Provider>
}

/** The session of the page: client, workspace and token state. */
export function useSession(): Session {
  const session = useContext(SessionContext)
  if (session === undefined) throw new Error('useSession is used outside SessionProvider')
  return session
}

/** The client of the page's workspace. */
export function useClient(): WharfClient {
  return useSession().client
}
