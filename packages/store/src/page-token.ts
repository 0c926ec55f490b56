import { invalidPageToken } from './errors.js'

/** A page token's content: which listing issued it and where the next page starts. */
export type PageCursor = Record<string, string | number | null>

/** Encodes a cursor as an opaque, URL-safe token bound to the listing `scope`. */
export function encodePageToken(scope: string, cursor: PageCursor): string {
  return Buffer.from(JSON.stringify({ s: scope, c: cursor }), 'utf8').toString('base64url')
}

/**
 * Decodes a token issued by {@link encodePageToken} for `scope` and checks each field's type against
 * `shape`; INVALID_ARGUMENT when it is malformed or was issued for another listing.
 */
export function decodePageToken<S extends Record<string, 'string' | 'number' | 'string|null'>>(
  token: string,
  scope: string,
  shape: S,
): { [K in keyof S]: S[K] extends 'number' ? number : S[K] extends 'string' ? string : string | null } {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    throw invalidPageToken()
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalidPageToken()
  const { s, c } = parsed as { s?: unknown; c?: unknown }
  if (s !== scope || typeof c !== 'object' || c === null) throw invalidPageToken()
  const cursor = c as Record<string, unknown>
  for (const [key, type] of Object.entries(shape)) {
    const value = cursor[key]
    const ok =
      type === 'number'
        ? typeof value === 'number' && Number.isFinite(value)
        : type === 'string'
          ? typeof value === 'string'
          : typeof value === 'string' || value === null
    if (!ok) throw invalidPageToken()
  }
  return cursor as { [K in keyof S]: S[K] extends 'number' ? number : S[K] extends 'string' ? string : string | null }
}
