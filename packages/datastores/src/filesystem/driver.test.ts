import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import type { DatastoreDriver, ListOptions, SkippedName } from '../driver.js'
import { toDatastoreKey } from '../key.js'
import {
  bodyOf,
  codeOf,
  describeDatastoreContract,
  digestOf,
  failingBody,
  generatedChunks,
  keysOf,
  readAll,
  stalledBody,
} from '../test-support/driver-contract.js'
import { createFilesystemDriver } from './driver.js'

const key = toDatastoreKey
const isRoot = process.getuid?.() === 0
if (isRoot) {
  console.log('skipped: "refuses a root it cannot write": this process runs as root, which may write to any folder')
}

// The root does not exist yet: the suite's validate({ create: true }) must make it.
describeDatastoreContract('filesystem', async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'wharf-fs-contract-'))
  return {
    driver: createFilesystemDriver({ root: path.join(base, 'nested', 'store') }),
    cleanup: () => rm(base, { recursive: true, force: true }),
  }
})

/** The keys of a whole listing, and the names it left out. */
async function listingOf(
  driver: DatastoreDriver,
  options: ListOptions = {},
): Promise<{ keys: string[]; skipped: SkippedName[] }> {
  const skipped: SkippedName[] = []
  const keys = await keysOf(driver, { ...options, onSkipped: (name) => void skipped.push(name) })
  return { keys, skipped }
}

/** The keys of each page of a listing (the first `only` pages, from `pageToken`), with the names left out while that page was fetched. */
async function pagesOf(
  driver: DatastoreDriver,
  pageSize: number,
  options: { pageToken?: string | undefined; only?: number } = {},
): Promise<{ items: string[]; skipped: string[]; nextPageToken?: string | undefined }[]> {
  const pages: { items: string[]; skipped: string[]; nextPageToken?: string | undefined }[] = []
  let skipped: string[] = []
  const listing = driver.list({ pageSize, onSkipped: (name) => void skipped.push(name.name) })
  for await (const page of listing.byPage(options.pageToken === undefined ? {} : { pageToken: options.pageToken })) {
    pages.push({ items: page.items.map((i) => i.key), skipped, nextPageToken: page.nextPageToken })
    skipped = []
    if (pages.length === options.only) break
  }
  return pages
}

/** Every name under `folder`, recursively, as `/`-joined relative paths. */
async function tree(folder: string): Promise<string[]> {
  const names = await readdir(folder, { recursive: true })
  return names.map((n) => n.split(path.sep).join('/')).sort()
}

describe('filesystem driver', () => {
  let base: string
  let root: string
  let driver: DatastoreDriver

  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'wharf-fs-'))
    root = path.join(base, 'root')
    await mkdir(root)
    driver = createFilesystemDriver({ root })
  })

  afterEach(async () => {
    await rm(base, { recursive: true, force: true })
  })

  it('stores a key as the file at that path under the root', async () => {
    await driver.put(key('x/y z/file.txt'), bodyOf('on disk'))
    expect(await readFile(path.join(root, 'x', 'y z', 'file.txt'), 'utf8')).toBe('on disk')
  })

  describe('temp files', () => {
    it('an upload in progress is a temp file beside the target that list, stat and get never show', async () => {
      await driver.put(key('dir/target.bin'), bodyOf('old'))
      const controller = new AbortController()
      const { body, pulledMore } = stalledBody(Buffer.alloc(4096, 3))
      const put = driver.put(key('dir/target.bin'), body, { signal: controller.signal }).catch((e: unknown) => e)
      await pulledMore
      expect((await readdir(path.join(root, 'dir'))).filter((n) => n.startsWith('.wharf-tmp-'))).toHaveLength(1)
      expect(await keysOf(driver)).toEqual(['dir/target.bin'])
      expect((await driver.stat(key('dir/target.bin')))?.size).toBe(3)
      expect((await readAll(await driver.get(key('dir/target.bin')))).toString()).toBe('old')
      controller.abort()
      const error = await put
      expect((error as Error).name).toBe('AbortError')
      expect(await tree(root)).toEqual(['dir', 'dir/target.bin'])
    })

    it('no temp file is left behind by a failed put of any kind', async () => {
      await driver.put(key('k/existing.bin'), bodyOf('old'))
      const failures: (() => Promise<unknown>)[] = [
        () => driver.put(key('k/existing.bin'), bodyOf('abc'), { size: 100 }),
        () => driver.put(key('k/new.bin'), bodyOf('abcdef'), { size: 2 }),
        () => driver.put(key('k/new.bin'), failingBody(Buffer.alloc(100_000), new Error('boom'))),
        () => driver.put(key('k/deeper/new.bin'), failingBody(Buffer.alloc(10), new Error('boom'))),
        () => driver.put(key('k/existing.bin'), Readable.from(generatedChunks(1_000_000, 1)), { signal: AbortSignal.timeout(1) }),
      ]
      for (const fail of failures) await expect(fail()).rejects.toThrow()
      const names = await tree(root)
      expect(names.filter((n) => n.includes('.wharf-tmp-'))).toEqual([])
      expect(await readFile(path.join(root, 'k', 'existing.bin'), 'utf8')).toBe('old')
    })

    it('a body error comes back as it is, not as a datastore failure', async () => {
      const boom = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
      const error: unknown = await driver.put(key('e.bin'), failingBody(Buffer.alloc(10), boom)).catch((e: unknown) => e)
      expect(error).toBe(boom)
    })

    it('a stale temp file in the folder is never listed', async () => {
      await writeFile(path.join(root, '.wharf-tmp-stale'), 'x')
      await driver.put(key('real.txt'), bodyOf('y'))
      expect(await keysOf(driver)).toEqual(['real.txt'])
    })
  })

  describe('symbolic links', () => {
    let outside: string

    beforeEach(async () => {
      outside = path.join(base, 'outside')
      await mkdir(path.join(outside, 'sub'), { recursive: true })
      await writeFile(path.join(outside, 'secret.txt'), 'secret')
      await writeFile(path.join(outside, 'sub', 'deep.txt'), 'deep')
      await symlink(outside, path.join(root, 'out'))
      await symlink(path.join(outside, 'secret.txt'), path.join(root, 'leak.txt'))
      await mkdir(path.join(root, 'real'))
      await writeFile(path.join(root, 'real', 'file.txt'), 'inside')
      await symlink(path.join(root, 'real'), path.join(root, 'inlink'))
      await symlink(root, path.join(root, 'real', 'up'))
      await symlink(path.join(base, 'nowhere'), path.join(root, 'broken'))
    })

    it('list skips links that lead outside, follows those inside, and ends on a loop', async () => {
      expect(await keysOf(driver)).toEqual(['inlink/file.txt', 'real/file.txt'])
      expect(await keysOf(driver, { prefix: 'out/' })).toEqual([])
      expect(await keysOf(driver, { prefix: 'real/up/' })).toEqual([])
    })

    it('reports each link it does not follow, with the reason, also one on the way to a prefix', async () => {
      const reasonsOf = async (options: ListOptions = {}): Promise<[string, string][]> =>
        (await listingOf(driver, options)).skipped.map(({ name, reason }) => [name, reason])
      const outside = 'a symbolic link that leads outside the datastore folder, not followed (Wharf never reads outside it)'
      const up = 'a symbolic link back to a folder that holds it, not followed (the files there are listed where they are)'
      expect(await reasonsOf()).toEqual([
        ['broken', 'a symbolic link that leads to nothing that exists, not followed'],
        ['inlink/up', up],
        ['leak.txt', outside],
        ['out', outside],
        ['real/up', up],
      ])
      expect(await reasonsOf({ prefix: 'out/sub/' })).toEqual([['out', outside]])
      expect(await reasonsOf({ prefix: 'real/up/' })).toEqual([['real/up', up]])
      expect(await reasonsOf({ prefix: 'missing/' })).toEqual([])
    })

    it('get and stat treat a key through an outside link as missing', async () => {
      for (const k of ['out/secret.txt', 'out/sub/deep.txt', 'leak.txt', 'broken']) {
        expect(await codeOf(() => driver.get(key(k))), k).toBe('FILE_NOT_FOUND')
        expect(await driver.stat(key(k)), k).toBeUndefined()
      }
      expect((await readAll(await driver.get(key('inlink/file.txt')))).toString()).toBe('inside')
    })

    it('put refuses to write through an outside link, and writes nothing there', async () => {
      expect(await codeOf(() => driver.put(key('out/new.txt'), bodyOf('x')))).toBe('UNSAFE_PATH')
      expect(await codeOf(() => driver.put(key('out/made/new.txt'), bodyOf('x')))).toBe('UNSAFE_PATH')
      expect(await codeOf(() => driver.put(key('out/sub/deep.txt'), bodyOf('x')))).toBe('UNSAFE_PATH')
      expect(await codeOf(() => driver.put(key('broken/x.txt'), bodyOf('x')))).toBe('UNSAFE_PATH')
      expect(await tree(outside)).toEqual(['secret.txt', 'sub', 'sub/deep.txt'])
      expect(await readFile(path.join(outside, 'sub', 'deep.txt'), 'utf8')).toBe('deep')
    })

    it('put over a link to an outside file replaces the link, never the file it points to', async () => {
      await driver.put(key('leak.txt'), bodyOf('mine'))
      expect((await lstat(path.join(root, 'leak.txt'))).isFile()).toBe(true)
      expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret')
      expect((await readAll(await driver.get(key('leak.txt')))).toString()).toBe('mine')
    })

    it('delete never removes anything outside, nor a link it does not show', async () => {
      await driver.delete(key('out/secret.txt'))
      await driver.delete(key('leak.txt'))
      await driver.delete(key('out'))
      expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret')
      expect((await lstat(path.join(root, 'leak.txt'))).isSymbolicLink()).toBe(true)
      expect((await lstat(path.join(root, 'out'))).isSymbolicLink()).toBe(true)
    })

    it('works when the root itself is reached through a link', async () => {
      const alias = path.join(base, 'alias')
      await symlink(root, alias)
      const viaAlias = createFilesystemDriver({ root: alias })
      await viaAlias.put(key('via/alias.txt'), bodyOf('ok'))
      expect(await keysOf(viaAlias, { prefix: 'via/' })).toEqual(['via/alias.txt'])
      expect(await readFile(path.join(root, 'via', 'alias.txt'), 'utf8')).toBe('ok')
    })
  })

  describe('files and folders', () => {
    it('refuses a key below a file, naming the file', async () => {
      await driver.put(key('a'), bodyOf('file'))
      const error: unknown = await driver.put(key('a/b/c'), bodyOf('x')).catch((e: unknown) => e)
      expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as Error).message).toMatch(/"a" is a file/)
    })

    it('refuses a key that is a folder, before reading the body', async () => {
      await driver.put(key('d/x'), bodyOf('x'))
      let pulled = false
      const body = new Readable({
        read() {
          pulled = true
          this.push(null)
        },
      })
      const error: unknown = await driver.put(key('d'), body).catch((e: unknown) => e)
      expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as Error).message).toMatch(/is a folder/)
      expect(pulled).toBe(false)
      expect(await tree(root)).toEqual(['d', 'd/x'])
    })

    it('delete removes the folders it emptied, but never the root or a folder still in use', async () => {
      await driver.put(key('a/b/c/one.txt'), bodyOf('1'))
      await driver.put(key('a/two.txt'), bodyOf('2'))
      await driver.delete(key('a/b/c/one.txt'))
      expect(await tree(root)).toEqual(['a', 'a/two.txt'])
      await driver.delete(key('a/two.txt'))
      expect(await tree(root)).toEqual([])
      expect((await stat(root)).isDirectory()).toBe(true)
    })

    it('refuses a key too long for the filesystem with INVALID_ARGUMENT, storing nothing', async () => {
      const long = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(250, 'x')).join('/')
      const error: unknown = await driver.put(key(long), bodyOf('x')).catch((e: unknown) => e)
      expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as Error).message).toMatch(/too long/)
      expect(await keysOf(driver)).toEqual([])
    })
  })

  describe('names no key can have', () => {
    it('reports each file whose name no key can have, with the reason, size and time, and lists the rest', async () => {
      await mkdir(path.join(root, 'sub'))
      await writeFile(path.join(root, 'sub', 'back\\slash.txt'), 'four')
      await writeFile(path.join(root, 'ctl\u0001'), 'x')
      // A name another program wrote in Latin-1: the byte 0xE9 alone is no UTF-8.
      await writeFile(Buffer.concat([Buffer.from(`${root}/sub/caf`), Buffer.from([0xe9]), Buffer.from("'s.txt")]), 'latin')
      await driver.put(key('sub/fine.txt'), bodyOf('y'))
      const { keys, skipped } = await listingOf(driver)
      expect(keys).toEqual(['sub/fine.txt'])
      expect(skipped.map(({ name, size, reason }) => ({ name, size, reason }))).toEqual([
        { name: 'ctl\u0001', size: 1, reason: 'it contains a control character (such as NUL or a newline)' },
        { name: 'sub/back\\slash.txt', size: 4, reason: 'it contains "\\", a folder separator on Windows' },
        {
          name: "sub/caf\ufffd's.txt",
          size: 5,
          reason: "it is not valid UTF-8; in a shell its path in the datastore folder is $'sub/caf\\xe9\\'s.txt'",
        },
      ])
      for (const name of skipped) expect(Date.parse(name.modifiedAt), name.name).toBeGreaterThan(Date.now() - 60_000)
      // A listing under a prefix tells only of the names under it.
      expect((await listingOf(driver, { prefix: 'sub/caf' })).skipped.map((s) => s.name)).toEqual(["sub/caf\ufffd's.txt"])
    })

    it('reports a folder whose name cannot be a path once, not each file under it', async () => {
      for (const folder of [Buffer.from('bad\\dir'), Buffer.from('C:'), Buffer.from([0x72, 0x61, 0x77, 0xff])]) {
        const at = Buffer.concat([Buffer.from(`${root}/`), folder])
        await mkdir(Buffer.concat([at, Buffer.from('/deep')]), { recursive: true })
        await writeFile(Buffer.concat([at, Buffer.from('/a.txt')]), 'a')
        await writeFile(Buffer.concat([at, Buffer.from('/deep/b.txt')]), 'b')
      }
      await driver.put(key('ok/c.txt'), bodyOf('c'))
      const { keys, skipped } = await listingOf(driver)
      expect(keys).toEqual(['ok/c.txt'])
      expect(skipped.map(({ name, size, reason }) => ({ name, size, reason }))).toEqual([
        {
          name: 'C:',
          size: 0,
          reason:
            'a folder whose name cannot be a path (it starts with a drive letter; give a path relative to the datastore); the files under it are not listed',
        },
        {
          name: 'bad\\dir',
          size: 0,
          reason:
            'a folder whose name cannot be a path (it contains "\\", a folder separator on Windows); the files under it are not listed',
        },
        {
          name: 'raw\ufffd',
          size: 0,
          reason:
            "a folder whose name cannot be a path (it is not valid UTF-8; in a shell its path in the datastore folder is $'raw\\xff'); the files under it are not listed",
        },
      ])
    })

    it('leaves its own temp files out without a word, but reports a folder that takes their reserved name', async () => {
      await writeFile(path.join(root, '.wharf-tmp-0123456789abcdef01234567'), 'part')
      await mkdir(path.join(root, 'sub', '.wharf-tmp-mine'), { recursive: true })
      await writeFile(path.join(root, 'sub', '.wharf-tmp-stale'), 'part')
      await writeFile(path.join(root, 'sub', '.wharf-tmp-mine', 'kept.txt'), 'user data')
      await driver.put(key('sub/real.txt'), bodyOf('y'))
      const { keys, skipped } = await listingOf(driver)
      expect(keys).toEqual(['sub/real.txt'])
      expect(skipped.map(({ name, reason }) => ({ name, reason }))).toEqual([
        {
          name: 'sub/.wharf-tmp-mine',
          reason:
            'a folder whose name cannot be a path (names starting with ".wharf-tmp-" are reserved for uploads in progress); the files under it are not listed',
        },
      ])
    })

    it('reports things that are no files, such as a socket', async () => {
      const socket = createServer()
      await new Promise<void>((resolve) => socket.listen(path.join(root, 'app.sock'), resolve))
      try {
        await driver.put(key('z.txt'), bodyOf('z'))
        const { keys, skipped } = await listingOf(driver)
        expect(keys).toEqual(['z.txt'])
        expect(skipped.map(({ name, reason }) => ({ name, reason }))).toEqual([
          { name: 'app.sock', reason: 'a socket, not a file' },
        ])
      } finally {
        await new Promise<void>((resolve) => socket.close(() => resolve()))
      }
    })

    it('tells of each name once when listed page by page, whether the walk is kept or started afresh after a token', async () => {
      for (const k of ['a1', 'b/b1', 'b/b2', 'c1', 'd/d1', 'e1']) await driver.put(key(k), bodyOf(k))
      for (const odd of ['a\\x', 'b/b1\\x', 'b/b3\\x', 'c\\x', 'e2\\x'])
        await writeFile(path.join(root, ...odd.split('/')), 'odd')
      await mkdir(path.join(root, 'd\\dir'))
      await writeFile(path.join(root, 'd\\dir', 'hidden.txt'), 'h')
      const everything = ['a\\x', 'b/b1\\x', 'b/b3\\x', 'c\\x', 'd\\dir', 'e2\\x']
      for (const pageSize of [1, 2, 4]) {
        const kept = await pagesOf(driver, pageSize)
        expect(
          kept.flatMap((page) => page.items),
          `pageSize ${pageSize}`,
        ).toEqual(['a1', 'b/b1', 'b/b2', 'c1', 'd/d1', 'e1'])
        expect(
          kept.flatMap((page) => page.skipped),
          `pageSize ${pageSize}`,
        ).toEqual(everything)
        // Each page asked for on its own, as the server does: a fresh listing resumed after the last token.
        const fresh: { items: string[]; skipped: string[] }[] = []
        let token: string | undefined
        do {
          const [page] = await pagesOf(driver, pageSize, { pageToken: token, only: 1 })
          fresh.push({ items: page?.items ?? [], skipped: page?.skipped ?? [] })
          token = page?.nextPageToken
        } while (token !== undefined)
        expect(
          fresh.map(({ items, skipped }) => ({ items, skipped })),
          `pageSize ${pageSize}`,
        ).toEqual(kept.map(({ items, skipped }) => ({ items, skipped })))
      }
      // Pages of two are [a1, b/b1] [b/b2, c1] [d/d1, e1]: a name goes with the page whose stretch of keys it
      // falls in (after the last key of the page before, up to its own last key), the last page's reaching to the end.
      expect((await pagesOf(driver, 2)).map((page) => page.skipped)).toEqual([
        ['a\\x'],
        ['b/b1\\x', 'b/b3\\x'],
        ['c\\x', 'd\\dir', 'e2\\x'],
      ])
    })
  })

  describe('list', () => {
    it('resumes after a token whose file was deleted in between', async () => {
      for (const k of ['1', '2', 'f/3', 'f/4', '5']) await driver.put(key(k), bodyOf(k))
      const [first] = await (async () => {
        const pages = []
        for await (const page of driver.list({ pageSize: 2 }).byPage()) {
          pages.push(page)
          break
        }
        return pages
      })()
      expect(first?.items.map((i) => i.key)).toEqual(['1', '2'])
      await driver.delete(key('2'))
      const rest = []
      for await (const page of driver.list().byPage({ pageSize: 10, pageToken: first?.nextPageToken ?? '' }))
        rest.push(...page.items)
      expect(rest.map((i) => i.key)).toEqual(['5', 'f/3', 'f/4'])
    })

    it('refuses a page token it did not make', async () => {
      const walk = async (): Promise<unknown> => {
        for await (const page of driver.list().byPage({ pageToken: '../x' })) return page
        return undefined
      }
      expect(await codeOf(walk)).toBe('INVALID_ARGUMENT')
    })

    it('keeps an open reader on the old content while a put replaces it', async () => {
      const size = 3 * 1024 * 1024
      await driver.put(key('swap.bin'), Readable.from(generatedChunks(size, 1)))
      const reader = await driver.get(key('swap.bin'))
      await driver.put(key('swap.bin'), Readable.from(generatedChunks(size, 2)))
      expect(await digestOf(reader)).toEqual(await digestOf(generatedChunks(size, 1)))
    })
  })

  describe('validate and the root folder', () => {
    it('creates a missing root with create, and names the folder when it is missing', async () => {
      const missing = path.join(base, 'new', 'deeper')
      const fresh = createFilesystemDriver({ root: missing })
      const error: unknown = await fresh.validate().catch((e: unknown) => e)
      expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toContain(missing)
      expect((error as Error).message).toMatch(/create/)
      expect(await codeOf(() => fresh.put(key('x'), bodyOf('x')))).toBe('DATASTORE_UNAVAILABLE')
      expect(await codeOf(() => keysOf(fresh))).toBe('DATASTORE_UNAVAILABLE')
      await fresh.validate({ create: true })
      expect((await stat(missing)).isDirectory()).toBe(true)
      await fresh.put(key('x'), bodyOf('x'))
      expect(await keysOf(fresh)).toEqual(['x'])
    })

    it('refuses a root that is a file, even with create', async () => {
      const file = path.join(base, 'a-file')
      await writeFile(file, 'x')
      const onFile = createFilesystemDriver({ root: file })
      for (const options of [{}, { create: true }]) {
        const error: unknown = await onFile.validate(options).catch((e: unknown) => e)
        expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
        expect((error as Error).message).toContain(file)
      }
      expect(await codeOf(() => onFile.stat(key('x')))).toBe('DATASTORE_UNAVAILABLE')
    })

    it.skipIf(isRoot)('refuses a root it cannot write', async () => {
      const { chmod } = await import('node:fs/promises')
      await chmod(root, 0o500)
      try {
        expect(await codeOf(() => driver.validate())).toBe('DATASTORE_UNAVAILABLE')
        expect(await codeOf(() => driver.put(key('x'), bodyOf('x')))).toBe('DATASTORE_UNAVAILABLE')
      } finally {
        await chmod(root, 0o700)
      }
    })

    it('resolves a relative root against the working directory once, at creation', async () => {
      const relative = path.relative(process.cwd(), root)
      const viaRelative = createFilesystemDriver({ root: relative })
      await viaRelative.put(key('rel.txt'), bodyOf('r'))
      expect(await readFile(path.join(root, 'rel.txt'), 'utf8')).toBe('r')
    })

    it('refuses an empty root', () => {
      expect(() => createFilesystemDriver({ root: '' })).toThrow(/path of its folder/)
    })
  })
  describe('local files (putFile, syncKeys, getFile)', () => {
    const putFile = (k: string, localPath: string, options: { size?: number; deferSync?: boolean } = {}) => {
      if (!driver.putFile) throw new Error('the filesystem driver has putFile')
      return driver.putFile(key(k), localPath, options)
    }
    const getFile = (k: string, target: string) => {
      if (!driver.getFile) throw new Error('the filesystem driver has getFile')
      return driver.getFile(key(k), target)
    }

    it('stores a local file, replacing what is there, and leaves no temp file', async () => {
      const local = path.join(base, 'local.bin')
      const content = Buffer.concat([...generatedChunks(300_000, 7)])
      await writeFile(local, content)
      await driver.put(key('a/b.bin'), bodyOf('old'))
      expect(await putFile('a/b.bin', local, { size: content.length })).toEqual({ size: content.length })
      expect((await readFile(path.join(root, 'a', 'b.bin'))).equals(content)).toBe(true)
      expect(await tree(root)).toEqual(['a', 'a/b.bin'])
      expect(await readFile(local)).toEqual(content) // the source is untouched
    })

    it('a local file of another size than declared stores nothing and keeps the old content', async () => {
      const local = path.join(base, 'local.txt')
      await writeFile(local, 'eleven byte')
      await driver.put(key('k.txt'), bodyOf('old'))
      const error = await putFile('k.txt', local, { size: 12 }).catch((e: unknown) => e)
      expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect(await readFile(path.join(root, 'k.txt'), 'utf8')).toBe('old')
      expect(await tree(root)).toEqual(['k.txt'])
    })

    it('hands back a missing local file as its system error, and refuses a key that is a folder', async () => {
      const error = await putFile('x.txt', path.join(base, 'missing.txt')).catch((e: unknown) => e)
      expect(isWharfError(error)).toBe(false)
      expect((error as NodeJS.ErrnoException).code).toBe('ENOENT')
      const local = path.join(base, 'local.txt')
      await writeFile(local, 'x')
      await driver.put(key('dir/inside.txt'), bodyOf('in'))
      expect(await codeOf(() => putFile('dir', local))).toBe('INVALID_ARGUMENT')
      expect(await tree(root)).toEqual(['dir', 'dir/inside.txt'])
    })

    it('refuses to write through a link that leads outside the root', async () => {
      const outside = path.join(base, 'outside')
      await mkdir(outside)
      await symlink(outside, path.join(root, 'out'))
      const local = path.join(base, 'local.txt')
      await writeFile(local, 'x')
      expect(await codeOf(() => putFile('out/x.txt', local))).toBe('UNSAFE_PATH')
      expect(await readdir(outside)).toEqual([])
    })

    // 70 keys take the one-syncfs way on Linux, 3 the fsync of each file and folder; both must resolve.
    for (const count of [3, 70]) {
      it(`stores ${count} files with deferSync and makes them durable with syncKeys, a deleted key included`, async () => {
        const keys = Array.from({ length: count }, (_, i) => `d${i % 4}/f${i}.txt`)
        for (const [i, k] of keys.entries()) {
          const local = path.join(base, `l${i}.txt`)
          await writeFile(local, `file ${i}`)
          await putFile(k, local, { deferSync: true })
        }
        await driver.delete(key(keys[0] ?? ''))
        await driver.syncKeys?.(keys.map(key))
        expect(await keysOf(driver)).toHaveLength(count - 1)
        expect(await readFile(path.join(root, 'd1', 'f1.txt'), 'utf8')).toBe('file 1')
      })
    }

    it('copies a stored file to a new local file, never over an existing one', async () => {
      await driver.put(key('s/t.txt'), bodyOf('stored'))
      const target = path.join(base, 'copy.txt')
      expect(await getFile('s/t.txt', target)).toEqual({ size: 6 })
      expect(await readFile(target, 'utf8')).toBe('stored')
      const again = await getFile('s/t.txt', target).catch((e: unknown) => e)
      expect((again as NodeJS.ErrnoException).code).toBe('EEXIST')
      expect(await codeOf(() => getFile('missing.txt', path.join(base, 'other.txt')))).toBe('FILE_NOT_FOUND')
      expect(await codeOf(() => getFile('s', path.join(base, 'other.txt')))).toBe('FILE_NOT_FOUND')
      const noFolder = await getFile('s/t.txt', path.join(base, 'no', 'such', 'folder.txt')).catch((e: unknown) => e)
      expect((noFolder as NodeJS.ErrnoException).code).toBe('ENOENT')
    })
  })
})
