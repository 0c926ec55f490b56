import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import { Readable, Transform, finished } from 'node:stream'
import type { Context } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import type { z } from 'zod'
import {
  MSGPACK_MEDIA_TYPE,
  WharfError,
  decodeMsgpackBody,
  findLoneSurrogate,
  isMsgpackMediaType,
  isWharfError,
  printable,
  toJson,
} from '@wharf/contract'
import type { RunTokenClaims } from './run-token.js'

/**
 * The Hono environment of the app: Node's request and response are reachable for streaming; `runToken`
 * holds the verified claims when the caller sent a run token.
 */
export type AppEnv = { Bindings: HttpBindings; Variables: { runToken?: RunTokenClaims } }
export type AppContext = Context<AppEnv>

/** Node's incoming request when served by @hono/node-server (undefined under `app.request()`). */
export function incomingOf(c: AppContext): IncomingMessage | undefined {
  return (c.env as HttpBindings | undefined)?.incoming
}

/** The error of a request whose client went away (or broke the framing) before the whole body arrived. */
export function clientClosed(cause?: unknown): WharfError {
  return new WharfError('MALFORMED_REQUEST', 'the client closed the request before sending the whole body; send it again', {
    ...(cause === undefined ? {} : { cause }),
    details: { reason: CLIENT_CLOSED },
  })
}

/** `details.reason` of {@link clientClosed}: the server log tells these apart from real failures. */
export const CLIENT_CLOSED = 'client-closed'

/** True for the error of {@link clientClosed}. */
export function isClientClosed(error: unknown): boolean {
  return isWharfError(error, 'MALFORMED_REQUEST') && error.details?.reason === CLIENT_CLOSED
}

/** Options for {@link requestBody}. */
export interface RequestBodyOptions {
  /** Without a Content-Length, the body fails with this error once it passes `max` bytes. */
  cap?: { max: number; tooLarge: () => WharfError }
}

/**
 * The request body as a stream for a driver to consume, the one way routes read a body they stream.
 * Whatever the client does (closes the connection after the headers, sends a malformed chunk, stops
 * short of its Content-Length), the stream fails with {@link clientClosed} — a WharfError the driver
 * hands back as it is — and never with an 'error' event nobody listens to, which would end the process.
 * The request itself is never destroyed, so an error response can still be written.
 */
export function requestBody(c: AppContext, options: RequestBodyOptions = {}): Readable {
  const incoming = incomingOf(c)
  const source = incoming ?? (c.req.raw.body ? Readable.fromWeb(c.req.raw.body) : Readable.from([]))
  const { cap } = options
  let seen = 0
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (cap !== undefined && seen > cap.max) {
        done(cap.tooLarge())
        return
      }
      done(null, chunk)
    },
  })
  // The driver attaches its own listeners only after some awaits (a run lookup, a stat): until then an
  // error must have a listener. It still reaches the driver, which reads it from `errored` through
  // `finished`, and `put` rejects with it.
  body.on('error', () => undefined)
  // `finished` also reports a request that closed before its end, and one that already has.
  finished(source, { writable: false }, (error) => {
    if (error && !body.destroyed) body.destroy(clientClosed(error))
  })
  source.pipe(body)
  return body
}

/** Reads the whole request body, refusing more than `limit` bytes with PAYLOAD_TOO_LARGE. */
async function readBodyBytes(c: AppContext, limit: number): Promise<Buffer> {
  const declaredHeader = c.req.header('content-length')
  const declared = declaredHeader === undefined ? undefined : Number(declaredHeader)
  if (declared !== undefined && declared > limit) throw tooLarge(declared, limit)
  const incoming = incomingOf(c)
  if (incoming === undefined) {
    const body = Buffer.from(await c.req.raw.arrayBuffer())
    if (body.length > limit) throw tooLarge(body.length, limit)
    return body
  }
  return readIncoming(incoming, { limit, ...(declared !== undefined && Number.isSafeInteger(declared) ? { declared } : {}) })
}

/** Collects a Node request body with plain events (cheaper than async iteration on the hot path). */
function readIncoming(incoming: IncomingMessage, options: { limit: number; declared?: number }): Promise<Buffer> {
  const { limit, declared } = options
  return new Promise<Buffer>((resolve, reject) => {
    // With a declared length, copy straight into one buffer; otherwise gather chunks.
    const whole = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined
    const chunks: Buffer[] = []
    let total = 0
    const fail = (error: Error): void => {
      incoming.off('data', onData)
      incoming.resume() // drain the rest so the connection can answer
      reject(error)
    }
    const onData = (chunk: Buffer): void => {
      if (total + chunk.length > (declared ?? limit)) {
        fail(
          declared !== undefined
            ? new WharfError('MALFORMED_REQUEST', 'the body is longer than its Content-Length')
            : tooLarge(total + chunk.length, limit),
        )
        return
      }
      if (whole) chunk.copy(whole, total)
      else chunks.push(chunk)
      total += chunk.length
    }
    incoming.on('data', onData)
    // Also a request that closed before this read began (a route may await before reading its body).
    finished(incoming, { writable: false }, (error) => {
      if (error) fail(clientClosed(error))
    })
    incoming.once('end', () => {
      if (whole) {
        if (total !== whole.length) {
          reject(new WharfError('MALFORMED_REQUEST', `the body is ${total} bytes but its Content-Length says ${whole.length}`))
          return
        }
        resolve(whole)
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total))
      }
    })
  })
}

function tooLarge(size: number, limit: number): WharfError {
  return new WharfError(
    'PAYLOAD_TOO_LARGE',
    `the request body is ${size} bytes or more; the limit is ${limit} (server limit "jsonBodyBytes"); send smaller requests`,
    { details: { limit: 'jsonBodyBytes', max: limit } },
  )
}

/**
 * Parses the JSON body, answering 415 for another content type and MALFORMED_REQUEST for bad JSON: the
 * one way a body is read as JSON (the route binder reads every JSON body with it). With `msgpack`, a
 * MessagePack body (`application/msgpack`) is read too, decoded by {@link decodeMsgpackBody}.
 */
export async function readJsonBody(c: AppContext, limit: number, options: { msgpack?: boolean } = {}): Promise<unknown> {
  const type = c.req.header('content-type') ?? ''
  if (options.msgpack === true && isMsgpackMediaType(type)) return decodeMsgpackBody(await readBodyBytes(c, limit))
  if (!/^application\/json\b/i.test(type)) {
    const expected =
      options.msgpack === true
        ? `a JSON or MessagePack body with Content-Type: application/json or ${MSGPACK_MEDIA_TYPE}`
        : 'a JSON body with Content-Type: application/json'
    throw new WharfError('UNSUPPORTED_MEDIA_TYPE', `expected ${expected}, got "${printable(type) || 'none'}"`)
  }
  return parseJsonBytes(await readBodyBytes(c, limit))
}

// A \uD800–\uDFFF escape: the only way a lone surrogate gets into JSON text that is valid UTF-8.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/

/**
 * Parses a JSON request body. MALFORMED_REQUEST when it is not UTF-8 or not JSON; INVALID_ARGUMENT,
 * naming the field, when a string holds a lone UTF-16 surrogate (stored, it would turn into U+FFFD).
 */
function parseJsonBytes(bytes: Buffer): unknown {
  // Checked, not decoded leniently: toString would turn bad bytes into U+FFFD without a word.
  if (!isUtf8(bytes)) throw new WharfError('MALFORMED_REQUEST', 'the body is not valid UTF-8; send JSON text encoded as UTF-8')
  const text = bytes.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch (cause) {
    throw new WharfError('MALFORMED_REQUEST', `the body is not valid JSON: ${(cause as Error).message}`, { cause })
  }
  // Walked only when an escape could have made one: the ingest hot path pays a single scan of the text.
  const field = SURROGATE_ESCAPE.test(text) ? findLoneSurrogate(value) : undefined
  if (field !== undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `body field "${printable(field)}" holds a lone UTF-16 surrogate, which has no UTF-8 form and would be stored as U+FFFD; send well-formed Unicode text`,
      { details: { where: 'body', field } },
    )
  }
  return value
}

/** A JSON answer that keeps -0 (metric values); `c.json` would write it as 0. */
export function jsonKeepingSign(c: AppContext, value: unknown, status: 200 | 201 = 200): Response {
  return c.body(toJson(value), status, { 'content-type': 'application/json' })
}

/** Validates the query string with a contract schema (repeated keys become arrays). */
export function readQuery<S extends z.ZodType>(c: AppContext, schema: S): z.output<S> {
  const raw: Record<string, string | string[]> = {}
  for (const [key, values] of Object.entries(c.req.queries())) {
    raw[key] = values.length === 1 ? values[0]! : values
  }
  return validate(schema, raw, 'query')
}

/** Runs a zod schema and turns its first issue into an INVALID_ARGUMENT that names the field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue?.path.map(String).join('.') ?? ''
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown ${where} field(s) ${issue.keys.map((k) => `"${printable(k)}"`).join(', ')}`
      : `${where}${field ? ` field "${field}"` : ''}: ${issue?.message ?? 'invalid'}`
  throw new WharfError('INVALID_ARGUMENT', message, { details: { where, field, issues: result.error.issues.slice(0, 5) } })
}
