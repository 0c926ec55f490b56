import type { MouseEvent, ReactNode } from 'react'
import { useSession } from './session.js'

/**
 * A link that downloads `href` (a path on this server). Without a token it is a plain link, so the
 * browser streams the file itself; with one (auth on) the file is fetched with the token and handed
 * over as a blob, since a link cannot carry an Authorization header.
 */
export function DownloadLink(props: { href: string; filename: string; children: ReactNode; className?: string }) {
  const { token, noteError } = useSession()
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (token === undefined) return
    event.preventDefault()
    void (async () => {
      const response = await fetch(props.href, { headers: { authorization: `Bearer ${token}` } })
      if (!response.ok) {
        if (response.status === 401) noteError(Object.assign(new Error('unauthenticated'), { code: 'UNAUTHENTICATED' }))
        window.alert(`The download failed: the server answered ${response.status}. Reload the page and try again.`)
        return
      }
      const url = URL.createObjectURL(await response.blob())
      const a = document.createElement('a')
      a.href = url
      a.download = props.filename
      a.click()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
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
