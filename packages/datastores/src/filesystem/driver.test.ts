import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import type { DatastoreDriver } from '../driver.js'
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

    it('does not list files whose names no key can have', async () => {
      await writeFile(path.join(root, 'back\\slash'), 'x')
      await writeFile(path.join(root, 'ctl\u0001'), 'x')
      await mkdir(path.join(root, 'C:'))
      await writeFile(path.join(root, 'C:', 'f'), 'x')
      await writeFile(Buffer.concat([Buffer.from(root), Buffer.from('/bad-\xff-utf8', 'latin1')]), 'x')
      await driver.put(key('fine.txt'), bodyOf('y'))
      expect(await keysOf(driver)).toEqual(['fine.txt'])
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
      for await (const page of driver.list().byPage({ pageSize: 10, pageToken: first?.nextPageToken ?? '' })) rest.push(...page.items)
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
