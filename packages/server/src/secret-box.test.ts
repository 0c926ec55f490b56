import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import { SECRET_KEY_FILE, createSecretBox, loadSecretKey } from './secret-box.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-secret-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('secret box', () => {
  it('round-trips, never shows the plaintext, and uses a fresh IV each time', () => {
    const box = createSecretBox(randomBytes(32))
    const secret = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    const a = box.seal(secret)
    const b = box.seal(secret)
    expect(a).not.toBe(b)
    expect(a).not.toContain(secret)
    expect(a).not.toContain(Buffer.from(secret).toString('base64'))
    expect(box.open(a)).toBe(secret)
    expect(box.open(b)).toBe(secret)
  })

  it('refuses a ciphertext that was altered or sealed under another key, without echoing it', () => {
    const box = createSecretBox(randomBytes(32))
    const sealed = box.seal('sas-token')
    const [v, iv, tag, data] = sealed.split('.')
    const flipped = [v, iv, tag, (data!.startsWith('A') ? 'B' : 'A') + data!.slice(1)].join('.')
    for (const bad of [flipped, createSecretBox(randomBytes(32)).seal('sas-token'), 'garbage']) {
      let error: unknown
      try {
        box.open(bad)
      } catch (e) {
        error = e
      }
      expect(isWharfError(error, 'INTERNAL')).toBe(true)
      expect((error as Error).message).not.toContain(bad)
    }
  })
})

describe('secret key', () => {
  it('creates a 0600 key file once and reads the same key afterwards', async () => {
    const first = await loadSecretKey({ dataDir: dir })
    const again = await loadSecretKey({ dataDir: dir })
    expect(first.equals(again)).toBe(true)
    expect((await stat(path.join(dir, SECRET_KEY_FILE))).mode & 0o777).toBe(0o600)
    expect(Buffer.from((await readFile(path.join(dir, SECRET_KEY_FILE), 'utf8')).trim(), 'base64').length).toBe(32)
  })

  it('gives concurrent first starts the same key', async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), 'wharf-secret-race-'))
    try {
      const keys = await Promise.all(Array.from({ length: 8 }, () => loadSecretKey({ dataDir: fresh })))
      for (const key of keys) expect(key.equals(keys[0]!)).toBe(true)
    } finally {
      await rm(fresh, { recursive: true, force: true })
    }
  })

  it('refuses a key file others can read, and a malformed WHARF_SECRET_KEY, saying how to fix it', async () => {
    await chmod(path.join(dir, SECRET_KEY_FILE), 0o644)
    await expect(loadSecretKey({ dataDir: dir })).rejects.toThrow(/chmod 600/)
    await chmod(path.join(dir, SECRET_KEY_FILE), 0o600)
    await expect(loadSecretKey({ dataDir: dir, envKey: 'short' })).rejects.toThrow(/openssl rand -base64 32/)
    const envKey = randomBytes(32).toString('base64')
    expect((await loadSecretKey({ dataDir: dir, envKey })).toString('base64')).toBe(envKey)
  })
})
