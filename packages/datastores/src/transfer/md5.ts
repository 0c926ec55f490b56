import { createHash } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import type { DatastoreDriver, FileInfo } from '../driver.js'

/** Bytes read at a time when hashing a local file. */
const READ_SIZE = 256 * 1024

/** Base64 MD5 (the Content-MD5 form) of an open file, read from its start in small blocks. */
export async function md5OfFile(handle: FileHandle, options: { signal?: AbortSignal | undefined } = {}): Promise<string> {
  const hash = createHash('md5')
  const buffer = Buffer.allocUnsafe(READ_SIZE)
  for (let position = 0; ; ) {
    options.signal?.throwIfAborted()
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) return hash.digest('base64')
    hash.update(buffer.subarray(0, bytesRead))
    position += bytesRead
  }
}

async function md5OfStream(stream: AsyncIterable<unknown>): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of stream) hash.update(chunk as Uint8Array)
  return hash.digest('base64')
}

/**
 * The stored file's base64 MD5: the storage's own Content-MD5 when it keeps one, else computed by reading
 * the file through the driver (streamed, never held whole).
 */
export async function remoteMd5(driver: DatastoreDriver, info: FileInfo, signal: AbortSignal | undefined): Promise<string> {
  if (info.contentMd5 !== undefined) return info.contentMd5
  const body = await driver.get(info.key, signal ? { signal } : {})
  try {
    return await md5OfStream(body)
  } finally {
    body.destroy()
  }
}
