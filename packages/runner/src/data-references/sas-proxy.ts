import { randomBytes } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { WharfError, type DatastoreAccess } from '@wharf/contract'

/** A read grant on an Azure container: what datastoreAccess answers in `azure_sas` mode. */
export type AzureGrant = Extract<DatastoreAccess, { mode: 'azure_sas' }>

/** A running {@link startSasProxy}. */
export interface SasProxy {
  /** The SAS URL to give rclone: this proxy, the container, and a secret only rclone knows. */
  readonly sasUrl: string
  /** How many times the grant was renewed. */
  readonly renewals: number
  close(): Promise<void>
}

/** Request headers not passed on: they belong to the hop between rclone and the proxy. */
const HOP_HEADERS = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

/**
 * A loopback proxy between rclone and Azure Blob that puts the current SAS on every request, renewing
 * it (`renew`) before it runs out: rclone reads its SAS once, so a mount made with the SAS itself would
 * stop reading after the grant's hour. rclone is given this proxy's URL with a random secret in place
 * of the SAS; a request without that secret is refused, so no other local user reads through it. The
 * SAS itself is never on disk, in argv or in a log.
 */
export async function startSasProxy(options: {
  grant: AzureGrant
  renew: () => Promise<AzureGrant>
  /** Renew this long before the grant expires. Default 10 minutes. */
  renewBeforeMs?: number
}): Promise<SasProxy> {
  const secret = randomBytes(24).toString('base64url')
  const renewBefore = options.renewBeforeMs ?? 10 * 60_000
  let grant = options.grant
  let renewing: Promise<AzureGrant> | undefined
  let renewals = 0
  const current = async (): Promise<AzureGrant> => {
    if (Date.parse(grant.expiresOn) - Date.now() > renewBefore) return grant
    renewing ??= options
      .renew()
      .then((next) => {
        grant = next
        renewals++
        return next
      })
      .finally(() => (renewing = undefined))
    return renewing
  }
  const accountPrefix = `/${options.grant.accountName}`
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    void forward({ incoming, outgoing, secret, accountPrefix, current }).catch((error: unknown) => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' })
      outgoing.end(error instanceof Error ? error.message : 'the proxy could not reach the storage')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    sasUrl: `http://127.0.0.1:${port}${accountPrefix}/${options.grant.containerName}?sig=${secret}`,
    get renewals() {
      return renewals
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function forward(options: {
  incoming: IncomingMessage
  outgoing: ServerResponse
  secret: string
  accountPrefix: string
  current: () => Promise<AzureGrant>
}): Promise<void> {
  const { incoming, outgoing } = options
  const asked = new URL(incoming.url ?? '/', 'http://proxy')
  if (asked.searchParams.get('sig') !== options.secret || !asked.pathname.startsWith(options.accountPrefix)) {
    incoming.resume()
    outgoing.writeHead(403, { 'content-type': 'text/plain' }).end('refused')
    return
  }
  asked.searchParams.delete('sig')
  const grant = await options.current()
  const target = new URL(grant.serviceUrl)
  target.pathname = `${target.pathname.replace(/\/+$/, '')}${asked.pathname.slice(options.accountPrefix.length)}`
  const query = new URLSearchParams(asked.searchParams)
  for (const [key, value] of new URLSearchParams(grant.sasToken.replace(/^\?/, ''))) query.set(key, value)
  target.search = query.toString()
  const headers: Record<string, string | string[]> = {}
  for (const [key, value] of Object.entries(incoming.headers)) {
    if (value !== undefined && !HOP_HEADERS.has(key)) headers[key] = value
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest
  await new Promise<void>((resolve, reject) => {
    const upstream = send(target, { method: incoming.method ?? 'GET', headers }, (answer) => {
      const answerHeaders: Record<string, string | string[]> = {}
      for (const [key, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_HEADERS.has(key)) answerHeaders[key] = value
      }
      outgoing.writeHead(answer.statusCode ?? 502, answer.statusMessage, answerHeaders)
      answer.pipe(outgoing)
      answer.once('end', resolve)
      answer.once('error', reject)
    })
    upstream.once('error', (cause) =>
      reject(new WharfError('DATASTORE_UNAVAILABLE', `the storage at ${target.host} could not be reached: ${cause.message}`)),
    )
    incoming.pipe(upstream)
  })
}
