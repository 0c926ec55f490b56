/** What a secret becomes wherever the runner shows or keeps text. */
export const MASK = '***'

const MASK_BYTES = Buffer.from(MASK)

/**
 * The runner's one masker: `text` with every occurrence of each (non-empty) secret replaced by `***`,
 * first secret first. Works on bytes (a live log's output, which may not be whole UTF-8) or on text,
 * which is masked as its UTF-8 bytes.
 */
export function maskSecrets(text: Buffer, secrets: readonly (string | Buffer)[]): Buffer
export function maskSecrets(text: string, secrets: readonly (string | Buffer)[]): string
export function maskSecrets(text: Buffer | string, secrets: readonly (string | Buffer)[]): Buffer | string {
  const asText = typeof text === 'string'
  let bytes = asText ? Buffer.from(text, 'utf8') : text
  for (const secret of secrets) {
    const needle = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
    if (needle.length > 0) bytes = replaceAllBytes(bytes, needle)
  }
  return asText ? bytes.toString('utf8') : bytes
}

function replaceAllBytes(text: Buffer, secret: Buffer): Buffer {
  let at = text.indexOf(secret)
  if (at < 0) return text
  const parts: Buffer[] = []
  let from = 0
  while (at >= 0) {
    parts.push(text.subarray(from, at), MASK_BYTES)
    from = at + secret.length
    at = text.indexOf(secret, from)
  }
  parts.push(text.subarray(from))
  return Buffer.concat(parts)
}
