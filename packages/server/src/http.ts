import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import type { z } from 'zod'
import { NAME_RULES, WharfError, assertName, printable } from '@wharf/contract'

/** The Hono environment of the app: Node's request and response are reachable for streaming. */
export type AppEnv = { Bindings: HttpBindings }
export type AppContext = Context<AppEnv>

/** Node's incoming request when served by @hono/node-server (undefined under `app.request()`). */
export function incomingOf(c: AppContext): IncomingMessage | undefined {
  return (c.env as HttpBindings | undefined)?.incoming
}

/** Reads the whole request body, refusing more than `limit` bytes with PAYLOAD_TOO_LARGE. */
export async function readBodyBytes(c: AppContext, limit: number): Promise<Buffer> {
  const declared = Number(c.req.header('content-length'))
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(declared, limit)
  const incoming = incomingOf(c)
  const chunks: Buffer[] = []
  let total = 0
  const source: AsyncIterable<Uint8Array> | null = incoming ?? (c.req.raw.body as AsyncIterable<Uint8Array> | null)
  if (source === null) return Buffer.alloc(0)
  for await (const chunk of source) {
    total += chunk.byteLength
    if (total > limit) throw tooLarge(total, limit)
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)
}

function tooLarge(size: number, limit: number): WharfError {
  return new WharfError(
    'PAYLOAD_TOO_LARGE',
    `the request body is ${size} bytes or more; the limit is ${limit} (server limit "jsonBodyBytes"); send smaller requests`,
    { details: { limit: 'jsonBodyBytes', max: limit } },
  )
}

/** Parses the JSON body, answering 415 for another content type and MALFORMED_REQUEST for bad JSON. */
export async function readJsonBody(c: AppContext, limit: number): Promise<unknown> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) {
    throw new WharfError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected a JSON body with Content-Type: application/json, got "${printable(type) || 'none'}"`,
    )
  }
  const bytes = await readBodyBytes(c, limit)
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown
  } catch (cause) {
    throw new WharfError('MALFORMED_REQUEST', `the body is not valid JSON: ${(cause as Error).message}`, { cause })
  }
}

/** Parses and validates a JSON body with a contract schema. */
export async function readJson<S extends z.ZodType>(c: AppContext, schema: S, limit: number): Promise<z.output<S>> {
  return validate(schema, await readJsonBody(c, limit), 'body')
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

/** The `:workspace` path parameter, validated. */
export function workspaceParam(c: AppContext): string {
  const name = c.req.param('workspace') ?? ''
  assertName(name, NAME_RULES.workspace)
  return name
}

/** A named path parameter, which the route guarantees is present. */
export function param(c: AppContext, name: string): string {
  const value = c.req.param(name)
  if (value === undefined) throw new WharfError('INVALID_ARGUMENT', `missing path parameter "${name}"`)
  return value
}
