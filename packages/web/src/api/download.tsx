import type { MouseEvent, ReactNode } from 'react'
import { WharfError } from '@wharf/contract'
import { useSession } from './session.js'

/**
 * A link that downloads `href` (a path on this server). Without a token it is a plain link, so the
 * browser streams the file itself; with one (auth on) the file is fetched with the token and handed
 * over as a blob, since a link cannot carry an Authorization header (so a very large file passes
 * through the tab's memory: a limit of bearer-token auth in browsers).
 */
export function DownloadLink(props: { href: string; filename: string; children: ReactNode; className?: string }) {
  const { token, noteError } = useSession()
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (token === undefined) return
    event.preventDefault()
    void (async () => {
      try {
        const response = await fetch(props.href, { headers: { authorization: `Bearer ${token}` } })
        if (response.status === 401) {
          noteError(new WharfError('UNAUTHENTICATED', 'the server refused the token kept for this tab'))
          return
        }
        if (!response.ok) {
          window.alert(
            `The download of ${props.filename} failed: the server answered ${response.status}. Reload the page and try again.`,
          )
          return
        }
        const url = URL.createObjectURL(await response.blob())
        const a = document.createElement('a')
        a.href = url
        a.download = props.filename
        a.click()
        setTimeout(() => URL.revokeObjectURL(url), 60_000)
      } catch (error) {
        window.alert(`The download of ${props.filename} failed (${String(error)}); check that the Wharf server is running.`)
      }
    })()
  }
  return (
    <a href={props.href} download={props.filename} onClick={onClick} className={props.className}>
      {props.children}
    </a>
  )
}

/** Fetches a path on this server with the tab's token (for previews of artifacts and files). */
export async function fetchWithToken(href: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`)
  return fetch(href, { ...init, headers })
}
