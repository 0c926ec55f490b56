import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { chmod, link, open, readFile, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { WharfError } from '@wharf/contract'

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
/** Ciphertexts start with this, so a later key or algorithm can be told apart. */
const VERSION = 'v1'

/**
 * Encrypts and decrypts datastore secrets (account keys, SAS tokens, S3 secret keys) with AES-256-GCM
 * under a key kept outside the database. Ciphertext is text: `v1.<iv>.<tag>.<data>` in base64url.
 */
export interface SecretBox {
  seal(plaintext: string): string
  /** Throws INTERNAL (never echoing the ciphertext) when it was sealed under another key or altered. */
  open(sealed: string): string
  /**
   * A 32-byte key for another purpose, derived from the box's key with HKDF-SHA256 and `label`: it lasts
   * as long as the box's key and is the same on every replica that shares it, and reveals nothing of it.
   */
  deriveKey(label: string): Buffer
}

/** A box over a 32-byte key. */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES)
    throw new WharfError('INVALID_ARGUMENT', `a secret key must be ${KEY_BYTES} bytes, got ${key.length}`)
  return {
    seal(plaintext) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.')
    },
    open(sealed) {
      const [version, iv, tag, data] = sealed.split('.')
      if (version !== VERSION || iv === undefined || tag === undefined || data === undefined) {
        throw new WharfError('INTERNAL', 'a stored secret is not in a format this server reads')
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES })
        decipher.setAuthTag(Buffer.from(tag, 'base64url'))
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8')
      } catch (cause) {
        throw new WharfError(
          'INTERNAL',
          "a stored secret cannot be decrypted with this server's key (WHARF_SECRET_KEY or secret.key in the data folder changed?); register the datastore again with overwrite",
          { cause },
        )
      }
    },
    deriveKey(label) {
      return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `wharf:${label}`, KEY_BYTES))
    },
  }
}

/** The name of the key file in the data folder. */
export const SECRET_KEY_FILE = 'secret.key'

/**
 * The server's secret key: `envKey` (base64 of 32 bytes, from WHARF_SECRET_KEY) when given, else the
 * key file in `dataDir`, created with mode 0600 on first use. Refuses a key file others can read.
 */
export async function loadSecretKey(options: { dataDir: string; envKey?: string }): Promise<Buffer> {
  if (options.envKey !== undefined) {
    const key = Buffer.from(options.envKey, 'base64')
    if (key.length !== KEY_BYTES) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `WHARF_SECRET_KEY must be ${KEY_BYTES} bytes in base64 (make one with: openssl rand -base64 32)`,
      )
    }
    return key
  }
  const file = path.join(options.dataDir, SECRET_KEY_FILE)
  // Written whole to a temp file, then linked into place: link fails if the name exists, so two servers
  // starting at once agree on one key, and nobody ever reads a half-written file.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(randomBytes(KEY_BYTES).toString('base64') + '\n')
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await chmod(temp, 0o600)
    await link(temp, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await unlink(temp)
  }
  const mode = (await stat(file)).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `${file} can be read by other users (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
    )
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')
  if (key.length !== KEY_BYTES)
    throw new WharfError('INVALID_ARGUMENT', `${file} does not hold a ${KEY_BYTES}-byte key in base64`)
  return key
}
