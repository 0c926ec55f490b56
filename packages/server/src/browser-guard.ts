import type { MiddlewareHandler } from 'hono'
import { WharfError, printable } from '@wharf/contract'
import { isLoopbackHost } from './config.js'
import type { AppEnv } from './http.js'

/** The host name of a Host header (`localhost:5050`, `[::1]:5050`, `127.0.0.1`), lowercased; undefined if it is none. */
function hostNameOf(host: string): string | undefined {
  // A Host header is a name or address and a port, nothing else: refuse "a@b", "a/b" and the like.
  if (!/^[a-z0-9.\-[\]:]+$/i.test(host)) return undefined
  try {
    return new URL(`http://${host}`).hostname
  } catch {
    return undefined
  }
}

/**
 * Refuses what a web page could send a server on this machine: a Host header the server does not
 * answer to (DNS rebinding: evil.example resolving to 127.0.0.1), and cross-site browser requests
 * (`Sec-Fetch-Site: cross-site`, or an `Origin` other than the server's own). Clients that are not
 * browsers send neither header and pass. `allowedHosts` undefined answers any Host.
 */
export function browserGuard(options: { allowedHosts: readonly string[] | undefined }): MiddlewareHandler<AppEnv> {
  const { allowedHosts } = options
  return async (c, next) => {
    const host = c.req.header('host') ?? new URL(c.req.url).host
    if (allowedHosts !== undefined) {
      const name = hostNameOf(host)
      if (name === undefined || !(isLoopbackHost(name) || allowedHosts.includes(name))) {
        throw new WharfError(
          'FORBIDDEN',
          `this server does not answer to the host name "${printable(name ?? host)}" (a web page may be trying to reach it through ` +
            `DNS rebinding); it answers localhost, 127.0.0.1 and [::1]${allowedHosts.length > 0 ? `, ${allowedHosts.join(', ')}` : ''}. ` +
            'If you reach it by that name on purpose, start the server with --allowed-hosts <name> (WHARF_ALLOWED_HOSTS)',
          { details: { header: 'Host' } },
        )
      }
    }
    if (c.req.header('sec-fetch-site') === 'cross-site') {
      throw new WharfError(
        'FORBIDDEN',
        'requests from web pages of other sites are refused; open the page from this server, or call the API from a program',
        {
          details: { header: 'Sec-Fetch-Site' },
        },
      )
    }
    const origin = c.req.header('origin')
    if (origin !== undefined && !sameOrigin(origin, host)) {
      throw new WharfError(
        'FORBIDDEN',
        `requests from web pages of another origin ("${printable(origin)}") are refused; open the page from this server, or call the API from a program`,
        { details: { header: 'Origin' } },
      )
    }
    await next()
  }
}

/** True when `origin` (a browser's Origin header) is the server's own, as the request's Host names it. */
function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin)
    // Through URL on both sides, so a default port written out (":80") still matches.
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`${url.protocol}//${host}`).host
  } catch {
    return false // "null" (sandboxed frames, file: pages) and garbage
  }
}
