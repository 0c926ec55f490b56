import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DATASTORE_KINDS, isWharfError, type ErrorCode, type Page } from '@wharf/contract'
import type { DatastoreDriver, FileInfo, ListOptions, PutResult } from '../driver.js'
import { toDatastoreKey, type DatastoreKey } from '../key.js'
import { rejectionCodeOf } from '@wharf/contract/test-support'

/** What a contract run needs: a driver over fresh, empty storage, and a way to remove that storage. */
export interface ContractSetup {
  driver: DatastoreDriver
  cleanup(): Promise<void>
}

/** Bytes as a body stream, in the chunks given. */
export function bodyOf(...chunks: (Buffer | string)[]): Readable {
  return Readable.from(chunks.map((chunk) => Buffer.from(chunk)))
}

/** Reads a whole stream into memory; for test-sized content only. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}

/** Pseudo-random bytes from a seed, produced chunk by chunk and never held whole. */
export function* generatedChunks(size: number, seed: number): Generator<Buffer> {
  let state = seed >>> 0 || 1
  let left = size
  let chunkSize = 50_001 // odd, so chunk edges never line up with the drivers' own buffer sizes
  while (left > 0) {
    const chunk = Buffer.allocUnsafe(Math.min(chunkSize, left))
    for (let i = 0; i < chunk.length; i++) {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      chunk[i] = state & 0xff
    }
    left -= chunk.length
    chunkSize = chunkSize === 50_001 ? 65_537 : 50_001
    yield chunk
  }
}

/** Size and digests of a stream, computed while it flows. */
export async function digestOf(chunks: AsyncIterable<unknown> | Iterable<Buffer>): Promise<PutResult> {
  const sha256 = createHash('sha256')
  const md5 = createHash('md5')
  let size = 0
  for await (const chunk of chunks) {
    const bytes = Buffer.from(chunk as Uint8Array)
    size += bytes.length
    sha256.update(bytes)
    md5.update(bytes)
  }
  return { size, sha256: sha256.digest('hex'), md5: md5.digest('base64') }
}

/** Every key a listing yields, in the order it yields them. */
export async function keysOf(driver: DatastoreDriver, options?: ListOptions): Promise<string[]> {
  const keys: string[] = []
  for await (const info of driver.list(options)) keys.push(info.key)
  return keys
}

/** A body that sends `first`, then waits (never ending by itself) until the put gives up on it. */
export function stalledBody(first: Buffer): { body: Readable; pulledMore: Promise<void> } {
  let reads = 0
  let markPulled = (): void => undefined
  const pulledMore = new Promise<void>((resolve) => {
    markPulled = resolve
  })
  const body = new Readable({
    read() {
      reads += 1
      if (reads === 1) this.push(first)
      else markPulled()
    },
  })
  return { body, pulledMore }
}

/** A body that sends `first` and then fails with `error`. */
export function failingBody(first: Buffer, error: Error): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield first
    await new Promise((resolve) => setImmediate(resolve))
    throw error
  }
  return Readable.from(chunks())
}

/** The code of the WharfError `action` rejects with (fails the test if it resolves or throws another error). */
export async function codeOf(action: () => Promise<unknown>): Promise<ErrorCode> {
  return rejectionCodeOf(Promise.resolve().then(action))
}

const key = (raw: string): DatastoreKey => toDatastoreKey(raw)
const text = async (driver: DatastoreDriver, k: string): Promise<string> => (await readAll(await driver.get(key(k)))).toString()
const byteOrder = (keys: readonly string[]): string[] => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))

async function collectPages(pages: AsyncIterable<Page<FileInfo>>): Promise<Page<FileInfo>[]> {
  const all: Page<FileInfo>[] = []
  for await (const page of pages) all.push(page)
  return all
}

/**
 * The behaviour every DatastoreDriver promises, as one suite. Each test gets fresh storage from `setup`
 * (validated with `create` first) and removes it afterwards; later drivers run the same suite.
 */
/**
 * Known differences of a storage emulator from the service it stands in for: each names the skipped
 * case and why, and the reason is printed, so a skip is never silent.
 */
export interface ContractDifferences {
  /** The emulator lists non-ASCII keys in another order than UTF-8 bytes (e.g. Azurite: UTF-16). */
  nonAsciiListOrder?: string
  /** The emulator writes a put straight into the stored object, so puts racing on one key can interleave (e.g. s3rver). */
  concurrentPutsInterleave?: string
  /** The emulator ignores If-None-Match on writes, so a put with `ifNotExists` replaces what is there (e.g. s3rver). */
  conditionalPutIgnored?: string
}

const CONDITIONAL_CASES = [
  'a put with ifNotExists stores a new file and refuses one that is there with FILE_EXISTS, keeping its content',
  'of puts with ifNotExists racing on one new key, exactly one succeeds and its bytes are stored',
] as const

export function describeDatastoreContract(
  name: string,
  setup: () => Promise<ContractSetup>,
  differences: ContractDifferences = {},
): void {
  if (differences.nonAsciiListOrder) {
    console.log(`skipped: ${name}: "lists in byte order of the UTF-8 key": ${differences.nonAsciiListOrder}`)
  }
  if (differences.concurrentPutsInterleave) {
    console.log(
      `skipped: ${name}: "puts to one key at the same time leave exactly one whole version": ${differences.concurrentPutsInterleave}`,
    )
  }
  if (differences.conditionalPutIgnored) {
    for (const title of CONDITIONAL_CASES) console.log(`skipped: ${name}: "${title}": ${differences.conditionalPutIgnored}`)
  }
  describe(`${name}: datastore contract`, () => {
    let driver: DatastoreDriver
    let cleanup: (() => Promise<void>) | undefined

    beforeEach(async () => {
      const made = await setup()
      driver = made.driver
      cleanup = () => made.cleanup()
      await driver.validate({ create: true })
    })

    afterEach(async () => {
      await cleanup?.()
      cleanup = undefined
    })

    it('names a known kind and validates again without complaint', async () => {
      expect(DATASTORE_KINDS).toContain(driver.kind)
      await expect(driver.validate()).resolves.toBeUndefined()
      await expect(driver.validate({ create: true })).resolves.toBeUndefined()
    })

    describe('put and get', () => {
      it('round-trips an empty file', async () => {
        const stored = await driver.put(key('empty.bin'), bodyOf(), { size: 0 })
        expect(stored).toEqual(await digestOf([]))
        expect(stored.md5).toBe('1B2M2Y8AsgTpgAmY7PhCfg==')
        expect((await readAll(await driver.get(key('empty.bin')))).length).toBe(0)
        expect((await driver.stat(key('empty.bin')))?.size).toBe(0)
      })

      it('round-trips one byte', async () => {
        const stored = await driver.put(key('one'), bodyOf(Buffer.from([0x7f])))
        expect(stored).toEqual(await digestOf([Buffer.from([0x7f])]))
        expect(await readAll(await driver.get(key('one')))).toEqual(Buffer.from([0x7f]))
      })

      it('round-trips all 256 byte values unchanged', async () => {
        const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => 255 - (i % 256)))
        const stored = await driver.put(key('bin/all-bytes'), bodyOf(bytes.subarray(0, 100), bytes.subarray(100)))
        expect(stored).toEqual(await digestOf([bytes]))
        expect((await readAll(await driver.get(key('bin/all-bytes')))).equals(bytes)).toBe(true)
      })

      it('streams a few MB and reports size, SHA-256 and MD5 as node:crypto computes them', async () => {
        const size = 5 * 1024 * 1024 + 123
        const expected = await digestOf(generatedChunks(size, 42))
        const stored = await driver.put(key('big/blob.bin'), Readable.from(generatedChunks(size, 42)), { size })
        expect(stored).toEqual(expected)
        expect(await digestOf(await driver.get(key('big/blob.bin')))).toEqual(expected)
        expect((await driver.stat(key('big/blob.bin')))?.size).toBe(size)
      })

      it('takes a content type', async () => {
        await driver.put(key('page.html'), bodyOf('<p>hi</p>'), { contentType: 'text/html' })
        expect(await text(driver, 'page.html')).toBe('<p>hi</p>')
      })

      it('replaces what is there', async () => {
        await driver.put(key('doc.txt'), bodyOf('the first, longer version'))
        const stored = await driver.put(key('doc.txt'), bodyOf('v2'))
        expect(stored.size).toBe(2)
        expect(await text(driver, 'doc.txt')).toBe('v2')
        expect((await driver.stat(key('doc.txt')))?.size).toBe(2)
        expect(await keysOf(driver)).toEqual(['doc.txt'])
      })

      it('accepts a normalised form of a key as the same key', async () => {
        await driver.put(key('x\\y//z.txt'), bodyOf('same'))
        expect(await text(driver, 'x/y/z.txt')).toBe('same')
      })

      it('throws FILE_NOT_FOUND naming a missing key', async () => {
        const error: unknown = await driver.get(key('no/such file.txt')).catch((e: unknown) => e)
        expect(isWharfError(error, 'FILE_NOT_FOUND')).toBe(true)
        expect((error as Error).message).toContain('no/such file.txt')
      })

      it('throws FILE_NOT_FOUND for a key that is only a folder of other keys', async () => {
        await driver.put(key('folder/inner.txt'), bodyOf('x'))
        expect(await codeOf(() => driver.get(key('folder')))).toBe('FILE_NOT_FOUND')
      })
    })

    describe('failed puts store nothing', () => {
      it('a body shorter or longer than the declared size fails with INVALID_ARGUMENT and stores nothing', async () => {
        expect(await codeOf(() => driver.put(key('short.bin'), bodyOf('abc'), { size: 10 }))).toBe('INVALID_ARGUMENT')
        expect(await codeOf(() => driver.put(key('long.bin'), bodyOf('abc', 'def'), { size: 4 }))).toBe('INVALID_ARGUMENT')
        expect(await driver.stat(key('short.bin'))).toBeUndefined()
        expect(await driver.stat(key('long.bin'))).toBeUndefined()
        expect(await keysOf(driver)).toEqual([])
      })

      it('a size mismatch leaves the old content in place', async () => {
        await driver.put(key('keep.txt'), bodyOf('old content'))
        expect(await codeOf(() => driver.put(key('keep.txt'), bodyOf('new'), { size: 99 }))).toBe('INVALID_ARGUMENT')
        expect(await text(driver, 'keep.txt')).toBe('old content')
      })

      it('an invalid declared size is refused before the body is read', async () => {
        let pulled = false
        const body = new Readable({
          read() {
            pulled = true
            this.push(null)
          },
        })
        expect(await codeOf(() => driver.put(key('x.bin'), body, { size: -1 }))).toBe('INVALID_ARGUMENT')
        expect(pulled).toBe(false)
      })

      it('an abort mid-stream fails the put and leaves the old content', async () => {
        await driver.put(key('keep.bin'), bodyOf('old'))
        for (const target of ['keep.bin', 'fresh.bin']) {
          const controller = new AbortController()
          const { body, pulledMore } = stalledBody(Buffer.alloc(1024, 1))
          const put = driver.put(key(target), body, { signal: controller.signal })
          const outcome = put.then(
            () => 'stored',
            () => 'failed',
          )
          await pulledMore
          controller.abort()
          expect(await outcome).toBe('failed')
          body.destroy()
        }
        expect(await text(driver, 'keep.bin')).toBe('old')
        expect(await driver.stat(key('fresh.bin'))).toBeUndefined()
        expect(await keysOf(driver)).toEqual(['keep.bin'])
      })

      it('an already aborted signal fails the put without reading the body', async () => {
        let pulled = false
        const body = new Readable({
          read() {
            pulled = true
            this.push(null)
          },
        })
        await expect(driver.put(key('never.bin'), body, { signal: AbortSignal.abort() })).rejects.toThrow()
        expect(pulled).toBe(false)
        expect(await keysOf(driver)).toEqual([])
      })

      it('a body that errors midway fails the put and leaves the old content', async () => {
        await driver.put(key('keep.bin'), bodyOf('old'))
        await expect(
          driver.put(key('keep.bin'), failingBody(Buffer.alloc(70_000, 2), new Error('client went away'))),
        ).rejects.toThrow()
        await expect(
          driver.put(key('fresh.bin'), failingBody(Buffer.alloc(10, 2), new Error('client went away'))),
        ).rejects.toThrow()
        expect(await text(driver, 'keep.bin')).toBe('old')
        expect(await keysOf(driver)).toEqual(['keep.bin'])
      })

      it('a body that closes before its end fails the put rather than hanging', async () => {
        let reads = 0
        const body = new Readable({
          read() {
            reads += 1
            if (reads === 1) this.push(Buffer.from('partial'))
            else this.destroy()
          },
        })
        await expect(driver.put(key('cut.bin'), body)).rejects.toThrow()
        expect(await keysOf(driver)).toEqual([])
      })
    })

    describe('ranges', () => {
      beforeEach(async () => {
        await driver.put(key('letters.txt'), bodyOf('abcdefghij'))
      })

      const read = async (range: { start: number; end?: number }): Promise<string> =>
        (await readAll(await driver.get(key('letters.txt'), { range }))).toString()

      it('reads the first byte, a middle span, the last byte and a suffix to the end (inclusive ends)', async () => {
        expect(await read({ start: 0, end: 0 })).toBe('a')
        expect(await read({ start: 3, end: 6 })).toBe('defg')
        expect(await read({ start: 9, end: 9 })).toBe('j')
        expect(await read({ start: 7 })).toBe('hij')
        expect(await read({ start: 0 })).toBe('abcdefghij')
      })

      it('cuts an end past the last byte to the last byte', async () => {
        expect(await read({ start: 5, end: 1000 })).toBe('fghij')
      })

      it('throws RANGE_NOT_SATISFIABLE for a start at or past the end', async () => {
        expect(await codeOf(() => read({ start: 10 }))).toBe('RANGE_NOT_SATISFIABLE')
        expect(await codeOf(() => read({ start: 11, end: 20 }))).toBe('RANGE_NOT_SATISFIABLE')
        await driver.put(key('empty'), bodyOf())
        expect(await codeOf(() => driver.get(key('empty'), { range: { start: 0 } }))).toBe('RANGE_NOT_SATISFIABLE')
      })

      it('throws INVALID_ARGUMENT for a range that is not one', async () => {
        expect(await codeOf(() => read({ start: -1 }))).toBe('INVALID_ARGUMENT')
        expect(await codeOf(() => read({ start: 5, end: 4 }))).toBe('INVALID_ARGUMENT')
        expect(await codeOf(() => read({ start: 1.5 }))).toBe('INVALID_ARGUMENT')
      })

      it('throws FILE_NOT_FOUND for a range of a missing key', async () => {
        expect(await codeOf(() => driver.get(key('missing'), { range: { start: 0, end: 1 } }))).toBe('FILE_NOT_FOUND')
      })
    })

    describe('stat and delete', () => {
      it('stats a file: key, size and an ISO time of the last change', async () => {
        const before = Date.now()
        await driver.put(key('s/file.txt'), bodyOf('12345'))
        const info = await driver.stat(key('s/file.txt'))
        expect(info?.key).toBe('s/file.txt')
        expect(info?.size).toBe(5)
        const modified = Date.parse(info?.modifiedAt ?? '')
        expect(new Date(modified).toISOString()).toBe(info?.modifiedAt)
        expect(Math.abs(modified - before)).toBeLessThan(60_000)
      })

      it('stats a missing key, and a folder of other keys, as undefined', async () => {
        await driver.put(key('s/file.txt'), bodyOf('x'))
        expect(await driver.stat(key('nothing.txt'))).toBeUndefined()
        expect(await driver.stat(key('s'))).toBeUndefined()
        expect(await driver.stat(key('s/file.txt/more'))).toBeUndefined()
      })

      it('deletes a file, and a second delete (or one of a missing key) resolves', async () => {
        await driver.put(key('d/gone.txt'), bodyOf('x'))
        await driver.put(key('d/stays.txt'), bodyOf('y'))
        await driver.delete(key('d/gone.txt'))
        expect(await driver.stat(key('d/gone.txt'))).toBeUndefined()
        expect(await codeOf(() => driver.get(key('d/gone.txt')))).toBe('FILE_NOT_FOUND')
        await expect(driver.delete(key('d/gone.txt'))).resolves.toBeUndefined()
        await expect(driver.delete(key('never/was.txt'))).resolves.toBeUndefined()
        expect(await keysOf(driver)).toEqual(['d/stays.txt'])
      })

      it('deleting a folder of other keys deletes nothing', async () => {
        await driver.put(key('f/inner.txt'), bodyOf('x'))
        await expect(driver.delete(key('f'))).resolves.toBeUndefined()
        expect(await text(driver, 'f/inner.txt')).toBe('x')
      })

      it('a key can become a file once everything under it is deleted', async () => {
        await driver.put(key('p/q/r.txt'), bodyOf('x'))
        await driver.delete(key('p/q/r.txt'))
        await driver.put(key('p/q'), bodyOf('now a file'))
        expect(await text(driver, 'p/q')).toBe('now a file')
        expect(await keysOf(driver)).toEqual(['p/q'])
      })
    })

    describe('list', () => {
      it('lists nothing in empty storage, as one empty page', async () => {
        expect(await keysOf(driver)).toEqual([])
        expect(await collectPages(driver.list().byPage())).toEqual([{ items: [] }])
      })

      it('lists files (never folders) recursively, with their size', async () => {
        await driver.put(key('top.txt'), bodyOf('1'))
        await driver.put(key('a/b/c/deep.txt'), bodyOf('1234'))
        const all: FileInfo[] = []
        for await (const info of driver.list()) all.push(info)
        expect(all.map((i) => i.key)).toEqual(['a/b/c/deep.txt', 'top.txt'])
        expect(all[0]?.size).toBe(4)
        expect(Number.isNaN(Date.parse(all[0]?.modifiedAt ?? ''))).toBe(false)
      })

      it('matches the prefix as a string: `a/b` takes `a/b.txt` and `a/bc`, `a/b/` only what is inside', async () => {
        for (const k of ['a/b.txt', 'a/b/c', 'a/b/d/e', 'a/bc', 'a/c', 'ab', 'b']) await driver.put(key(k), bodyOf(k))
        expect(await keysOf(driver, { prefix: 'a/b' })).toEqual(['a/b.txt', 'a/b/c', 'a/b/d/e', 'a/bc'])
        expect(await keysOf(driver, { prefix: 'a/b/' })).toEqual(['a/b/c', 'a/b/d/e'])
        expect(await keysOf(driver, { prefix: 'a/b\\' })).toEqual(['a/b/c', 'a/b/d/e'])
        expect(await keysOf(driver, { prefix: 'a/' })).toEqual(['a/b.txt', 'a/b/c', 'a/b/d/e', 'a/bc', 'a/c'])
        expect(await keysOf(driver, { prefix: 'a' })).toEqual(['a/b.txt', 'a/b/c', 'a/b/d/e', 'a/bc', 'a/c', 'ab'])
        expect(await keysOf(driver, { prefix: 'a/b/c' })).toEqual(['a/b/c'])
        expect(await keysOf(driver, { prefix: 'a/b/d/e/' })).toEqual([])
        expect(await keysOf(driver, { prefix: 'zzz' })).toEqual([])
        expect(await keysOf(driver, { prefix: '' })).toEqual(['a/b.txt', 'a/b/c', 'a/b/d/e', 'a/bc', 'a/c', 'ab', 'b'])
      })

      it.skipIf(differences.nonAsciiListOrder !== undefined)(
        'lists in byte order of the UTF-8 key, folders included (`b-x` < `b.txt` < `b/c` < `b0`)',
        async () => {
          const keys = ['x/b/c', 'x/b0', 'x/b.txt', 'x/b-x', 'B/z', 'a', 'A', 'a b', 'é', '\uFF21', '😀', 'z/😀/1', 'z/\uFF21/1']
          for (const k of keys) await driver.put(key(k), bodyOf(k))
          const listed = await keysOf(driver)
          expect(listed).toEqual(byteOrder(keys))
          expect(listed.indexOf('x/b-x')).toBeLessThan(listed.indexOf('x/b/c'))
          expect(listed.indexOf('\uFF21')).toBeLessThan(listed.indexOf('😀'))
        },
      )

      it('pages: pageSize 2 over 5 files gives pages of 2, 2 and 1, nothing missing or twice', async () => {
        const keys = ['p/1', 'p/2', 'p/sub/3', 'p/sub/4', 'p/5']
        for (const k of keys) await driver.put(key(k), bodyOf(k))
        const pages = await collectPages(driver.list({ pageSize: 2 }).byPage())
        expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1])
        expect(pages.slice(0, -1).every((p) => typeof p.nextPageToken === 'string' && p.nextPageToken !== '')).toBe(true)
        expect(pages.at(-1)?.nextPageToken).toBeUndefined()
        expect(pages.flatMap((p) => p.items.map((i) => i.key))).toEqual(byteOrder(keys))
        expect(await keysOf(driver, { pageSize: 2 })).toEqual(byteOrder(keys))
      })

      it('pages with the size byPage asks for, within a prefix, and resumes from a page token', async () => {
        for (let i = 0; i < 7; i++) await driver.put(key(`r/${i}`), bodyOf(String(i)))
        await driver.put(key('s/outside'), bodyOf('x'))
        const listing = driver.list({ prefix: 'r/', pageSize: 100 })
        const pages = await collectPages(listing.byPage({ pageSize: 3 }))
        expect(pages.map((p) => p.items.map((i) => i.key))).toEqual([['r/0', 'r/1', 'r/2'], ['r/3', 'r/4', 'r/5'], ['r/6']])
        const token = pages[0]?.nextPageToken
        expect(token).toBeDefined()
        const resumed = await collectPages(
          driver.list({ prefix: 'r/' }).byPage({ pageSize: 2, ...(token ? { pageToken: token } : {}) }),
        )
        expect(resumed.flatMap((p) => p.items.map((i) => i.key))).toEqual(['r/3', 'r/4', 'r/5', 'r/6'])
      })

      it('refuses an unsafe prefix with UNSAFE_PATH and a bad page size with INVALID_ARGUMENT', async () => {
        for (const prefix of ['../', '/etc', 'a/../..', 'C:/']) {
          expect(await codeOf(async () => keysOf(driver, { prefix })), prefix).toBe('UNSAFE_PATH')
        }
        expect(await codeOf(async () => keysOf(driver, { pageSize: 0 }))).toBe('INVALID_ARGUMENT')
      })
    })

    it('keeps keys with spaces and Unicode exactly', async () => {
      const keys = ['dir with space/file name.txt', 'données/日本語/ファイル.bin', 'emoji/😀 🚀.txt', 'mixed/Ünïcödé ü.txt']
      for (const k of keys) await driver.put(key(k), bodyOf(`content of ${k}`))
      expect(await keysOf(driver)).toEqual(byteOrder(keys))
      for (const k of keys) {
        expect(await text(driver, k)).toBe(`content of ${k}`)
        expect((await driver.stat(key(k)))?.key).toBe(k)
      }
      expect(await keysOf(driver, { prefix: 'données/日本' })).toEqual(['données/日本語/ファイル.bin'])
    })

    it('refuses unsafe keys with UNSAFE_PATH before any I/O, even when they were forced into the type', async () => {
      const forged = ['../escape.txt', '/abs.txt', 'a/../../b', 'C:/x', 'a\u0000b', '', '.', 'a/./b', '.wharf-tmp-1']
      for (const raw of forged) {
        const k = raw as DatastoreKey
        let pulled = false
        const body = new Readable({
          read() {
            pulled = true
            this.push(null)
          },
        })
        expect(await codeOf(() => driver.put(k, body)), raw).toBe('UNSAFE_PATH')
        expect(pulled, raw).toBe(false)
        expect(await codeOf(() => driver.get(k)), raw).toBe('UNSAFE_PATH')
        expect(await codeOf(() => driver.stat(k)), raw).toBe('UNSAFE_PATH')
        expect(await codeOf(() => driver.delete(k)), raw).toBe('UNSAFE_PATH')
      }
      expect(await keysOf(driver)).toEqual([])
    })

    it('runs puts to different keys at the same time', async () => {
      const keys = Array.from({ length: 16 }, (_, i) => `many/${i % 4}/file-${i}.bin`)
      const results = await Promise.all(
        keys.map((k, i) => driver.put(key(k), Readable.from(generatedChunks(100_000 + i, i + 1)))),
      )
      for (const [i, k] of keys.entries()) {
        const expected = await digestOf(generatedChunks(100_000 + i, i + 1))
        expect(results[i]).toEqual(expected)
        expect(await digestOf(await driver.get(key(k)))).toEqual(expected)
      }
      expect(await keysOf(driver, { prefix: 'many/' })).toEqual(byteOrder(keys))
    })

    it.skipIf(differences.concurrentPutsInterleave !== undefined)(
      'puts to one key at the same time leave exactly one whole version',
      async () => {
        const versions = Array.from({ length: 6 }, (_, i) => i + 100)
        const results = await Promise.all(
          versions.map((seed) => driver.put(key('race.bin'), Readable.from(generatedChunks(300_000, seed)))),
        )
        const stored = await digestOf(await driver.get(key('race.bin')))
        expect(results.map((r) => r.sha256)).toContain(stored.sha256)
        expect(await keysOf(driver)).toEqual(['race.bin'])
      },
    )

    it.skipIf(differences.concurrentPutsInterleave !== undefined)(
      'puts of several blocks to one key at the same time each succeed or fail with WRITE_CONFLICT, leaving one whole version',
      async () => {
        const size = 9 * 1024 * 1024
        const seeds = [1, 2, 3, 4]
        const outcomes = await Promise.allSettled(
          seeds.map((seed) => driver.put(key('big-race.bin'), Readable.from(generatedChunks(size, seed)))),
        )
        const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
        const lost = outcomes.flatMap((o): unknown[] => (o.status === 'rejected' ? [o.reason] : []))
        expect(won.length).toBeGreaterThan(0)
        for (const reason of lost) expect(isWharfError(reason, 'WRITE_CONFLICT'), String(reason)).toBe(true)
        expect(won.map((r) => r.sha256)).toContain((await digestOf(await driver.get(key('big-race.bin')))).sha256)
        expect(await keysOf(driver)).toEqual(['big-race.bin'])
      },
    )

    it.skipIf(differences.conditionalPutIgnored !== undefined)(CONDITIONAL_CASES[0], async () => {
      expect(await driver.put(key('once/a.txt'), bodyOf('first'), { ifNotExists: true })).toEqual(
        await digestOf([Buffer.from('first')]),
      )
      expect(await codeOf(() => driver.put(key('once/a.txt'), bodyOf('second'), { ifNotExists: true }))).toBe('FILE_EXISTS')
      expect(await text(driver, 'once/a.txt')).toBe('first')
      const putFile = driver.putFile?.bind(driver)
      if (putFile) {
        // The local-file fast path keeps the same promise.
        const folder = await mkdtemp(path.join(tmpdir(), 'wharf-contract-'))
        const local = path.join(folder, 'local.txt')
        await writeFile(local, 'third')
        expect(await codeOf(() => putFile(key('once/a.txt'), local, { ifNotExists: true }))).toBe('FILE_EXISTS')
        await putFile(key('once/b.txt'), local, { ifNotExists: true })
        expect(await text(driver, 'once/b.txt')).toBe('third')
        await rm(folder, { recursive: true, force: true })
      }
      expect(await text(driver, 'once/a.txt')).toBe('first')
      expect(await keysOf(driver)).toEqual(putFile ? ['once/a.txt', 'once/b.txt'] : ['once/a.txt'])
    })

    it.skipIf(differences.conditionalPutIgnored !== undefined)(CONDITIONAL_CASES[1], async () => {
      // Small puts (one request each) and puts of several blocks or parts (staged, then committed).
      for (const size of [300_000, 9 * 1024 * 1024]) {
        const seeds = [1, 2, 3, 4].map((i) => i + size)
        const target = key(`race-${size}.bin`)
        const outcomes = await Promise.allSettled(
          seeds.map((seed) => driver.put(target, Readable.from(generatedChunks(size, seed)), { ifNotExists: true })),
        )
        const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
        const lost = outcomes.flatMap((o): unknown[] => (o.status === 'rejected' ? [o.reason] : []))
        expect(won, `size ${size}`).toHaveLength(1)
        for (const reason of lost) expect(isWharfError(reason, 'FILE_EXISTS'), String(reason)).toBe(true)
        expect(await digestOf(await driver.get(target))).toEqual(won[0])
      }
      expect(await keysOf(driver)).toEqual(['race-300000.bin', `race-${9 * 1024 * 1024}.bin`])
    })

    it('a reader of the old content sees all of it or fails, never a mix, while a put replaces it', async () => {
      const size = 2 * 1024 * 1024
      await driver.put(key('swap.bin'), Readable.from(generatedChunks(size, 7)))
      const old = await digestOf(generatedChunks(size, 7))
      const fresh = await digestOf(generatedChunks(size, 8))
      const reader = (await driver.get(key('swap.bin')))[Symbol.asyncIterator]()
      const first = await reader.next()
      await driver.put(key('swap.bin'), Readable.from(generatedChunks(size, 8)))
      const rest = async function* (): AsyncGenerator<unknown> {
        if (!first.done) yield first.value
        for (let step = await reader.next(); !step.done; step = await reader.next()) yield step.value
      }
      const seen = await digestOf(rest()).catch(() => undefined)
      if (seen) expect([old.sha256, fresh.sha256]).toContain(seen.sha256)
      expect(await digestOf(await driver.get(key('swap.bin')))).toEqual(fresh)
    })
  })
}
