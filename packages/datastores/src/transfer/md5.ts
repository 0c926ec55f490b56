import { createHash, type Hash } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import type { DatastoreDriver, FileInfo } from '../driver.js'

/** The digests a download checks: MD5 (what storages keep, as Azure's Content-MD5) and sha256 (Wharf's artifacts). */
export type DigestAlgorithm = 'md5' | 'sha256'

/** A digest a file must have: MD5 in base64 (the Content-MD5 form), sha256 in hex (the form Wharf records). */
export interface ExpectedDigest {
  algorithm: DigestAlgorithm
  value: string
}

/** How each algorithm's digest is written, matching {@link ExpectedDigest}. */
export const DIGEST_ENCODING = { md5: 'base64', sha256: 'hex' } as const satisfies Record<DigestAlgorithm, 'base64' | 'hex'>

/** Bytes read at a time when hashing a local file. */
const READ_SIZE = 256 * 1024

/** The digest of an open file, read from its start in small blocks, in its algorithm's usual form. */
export async function digestOfFile(
  handle: FileHandle,
  options: { algorithm: DigestAlgorithm; signal?: AbortSignal | undefined },
): Promise<string> {
  const hash = createHash(options.algorithm)
  const buffer = Buffer.allocUnsafe(READ_SIZE)
  for (let position = 0; ;) {
    options.signal?.throwIfAborted()
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) return hash.digest(DIGEST_ENCODING[options.algorithm])
    hash.update(buffer.subarray(0, bytesRead))
    position += bytesRead
  }
}

/** Base64 MD5 (the Content-MD5 form) of an open file, read from its start in small blocks. */
export function md5OfFile(handle: FileHandle, options: { signal?: AbortSignal | undefined } = {}): Promise<string> {
  return digestOfFile(handle, { algorithm: 'md5', signal: options.signal })
}

/** The digest of a stream's bytes, in the algorithm's usual form. */
export async function digestOfStream(stream: AsyncIterable<unknown>, algorithm: DigestAlgorithm): Promise<string> {
  const hash: Hash = createHash(algorithm)
  for await (const chunk of stream) hash.update(chunk as Uint8Array)
  return hash.digest(DIGEST_ENCODING[algorithm])
}

/**
 * The stored file's base64 MD5: the storage's own Content-MD5 when it keeps one, else computed by reading
 * the file through the driver (streamed, never held whole).
 */
export async function remoteMd5(driver: DatastoreDriver, info: FileInfo, signal: AbortSignal | undefined): Promise<string> {
  if (info.contentMd5 !== undefined) return info.contentMd5
  const body = await driver.get(info.key, signal ? { signal } : {})
  try {
    return await digestOfStream(body, 'md5')
  } finally {
    body.destroy()
  }
}
