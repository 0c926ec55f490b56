import { mkdir, symlink } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { codeOf } from '../test-support/driver-contract.js'
import { listLocalFiles } from './local-files.js'
import { localPathOf, localRelativeOf, downloadPrefixOf } from './local-path.js'
import { planUploadKeys } from './plan-keys.js'
import { commonFolderPrefix } from './remote-index.js'
import { tempFolder, writeFiles } from './test-support/fixtures.js'

describe('listLocalFiles', () => {
  let dir: string
  let remove: () => Promise<void>

  beforeEach(async () => {
    ;({ dir, remove } = await tempFolder('list'))
  })

  afterEach(async () => {
    await remove()
  })

  it('lists files only, recursively, with posix relative paths and sizes, in UTF-8 byte order', async () => {
    await writeFiles(dir, { 'b.txt': 'bb', 'a/z.txt': 'z', 'a/b/c.bin': 'ccc', 'Z.txt': '', 'é.txt': 'e', 'a-b.txt': '1' })
    await mkdir(path.join(dir, 'empty', 'deeper'), { recursive: true })
    const files = await listLocalFiles(dir)
    expect(files.map((f) => f.relativePath)).toEqual(
      ['Z.txt', 'a/b/c.bin', 'a/z.txt', 'a-b.txt', 'b.txt', 'é.txt'].sort((x, y) =>
        Buffer.compare(Buffer.from(x), Buffer.from(y)),
      ),
    )
    expect(files.find((f) => f.relativePath === 'a/b/c.bin')).toEqual({
      localPath: path.join(dir, 'a', 'b', 'c.bin'),
      relativePath: 'a/b/c.bin',
      size: 3,
    })
  })

  it('follows links to files and folders, cuts a link loop, and leaves out temp files of interrupted downloads', async () => {
    await writeFiles(dir, { 'real/file.txt': 'x', 'real/.wharf-tmp-0123abcd': 'partial' })
    await symlink(path.join(dir, 'real', 'file.txt'), path.join(dir, 'link.txt'))
    await symlink(path.join(dir, 'real'), path.join(dir, 'linked'))
    await symlink(dir, path.join(dir, 'real', 'loop'))
    await symlink(path.join(dir, 'nowhere'), path.join(dir, 'broken'))
    const files = await listLocalFiles(dir)
    expect(files.map((f) => f.relativePath)).toEqual(['link.txt', 'linked/file.txt', 'real/file.txt'])
  })

  it('rejects a missing folder with FILE_NOT_FOUND and a file with INVALID_ARGUMENT, naming the path', async () => {
    const missing = path.join(dir, 'no-such-folder')
    const error = await listLocalFiles(missing).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('FILE_NOT_FOUND')
    expect((error as Error).message).toContain(missing)
    const [file] = await writeFiles(dir, { 'f.txt': 'x' })
    expect(await codeOf(() => listLocalFiles(file!))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => listLocalFiles(''))).toBe('INVALID_ARGUMENT')
  })
})

describe('planUploadKeys', () => {
  const root = path.resolve('/data/project')

  it('uses the files’ common folder as the relative root by default', () => {
    const files = [path.join(root, 'a', 'x.txt'), path.join(root, 'a', 'b', 'y.txt')]
    expect(planUploadKeys(files).map((i) => i.key)).toEqual(['x.txt', 'b/y.txt'])
    expect(planUploadKeys([path.join(root, 'only.txt')])).toEqual([{ localPath: path.join(root, 'only.txt'), key: 'only.txt' }])
    expect(planUploadKeys([path.join(root, 'a', 'x'), path.join(root, 'c', 'y')]).map((i) => i.key)).toEqual(['a/x', 'c/y'])
    expect(planUploadKeys([])).toEqual([])
  })

  it('makes key = targetPath + the path below relativeRoot (Azure ML upload_files)', () => {
    const files = [path.join(root, 'to', 'file.txt'), path.join(root, 'to', 'deep', 'f.bin')]
    expect(planUploadKeys(files, { relativeRoot: root, targetPath: 'up/load' }).map((i) => i.key)).toEqual([
      'up/load/to/file.txt',
      'up/load/to/deep/f.bin',
    ])
    for (const targetPath of ['./up/load/', '/up/load', 'up\\load', '//up//load//']) {
      expect(
        planUploadKeys(files, { relativeRoot: root, targetPath }).map((i) => i.key),
        targetPath,
      ).toEqual(['up/load/to/file.txt', 'up/load/to/deep/f.bin'])
    }
    for (const targetPath of ['', '.', './', '/']) {
      expect(planUploadKeys(files, { relativeRoot: `${root}${path.sep}`, targetPath })[0]?.key, targetPath).toBe('to/file.txt')
    }
    expect(planUploadKeys(['rel/x.txt'], { relativeRoot: 'rel' })).toEqual([
      { localPath: path.resolve('rel/x.txt'), key: 'x.txt' },
    ])
  })

  it('refuses a relative root that does not hold every file, naming the first file outside it', () => {
    const inside = path.join(root, 'in', 'x.txt')
    const outside = path.join(root, 'out', 'y.txt')
    const later = path.join('/elsewhere', 'z.txt')
    let error: unknown
    try {
      planUploadKeys([inside, outside, later], { relativeRoot: path.join(root, 'in') })
    } catch (e) {
      error = e
    }
    expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT')
    expect((error as Error).message).toContain(outside)
    expect((error as Error).message).not.toContain(later)
    // A string prefix is not enough: the root must be a folder that holds the file.
    expect(() => planUploadKeys([path.join(root, 'tofu.txt')], { relativeRoot: path.join(root, 'to') })).toThrow(
      /not inside the relative root/,
    )
    expect(() => planUploadKeys([inside], { relativeRoot: inside })).toThrow(/not inside the relative root/)
  })

  it('refuses an unsafe target path with UNSAFE_PATH and non-paths with INVALID_ARGUMENT', () => {
    for (const targetPath of ['../up', 'a/../../b', 'C:/x']) {
      expect(() => planUploadKeys([path.join(root, 'x')], { targetPath }), targetPath).toThrow(
        expect.objectContaining({ code: 'UNSAFE_PATH' }),
      )
    }
    expect(() => planUploadKeys([''])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => planUploadKeys('x.txt' as unknown as string[])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})

describe('download paths', () => {
  const targetDir = path.resolve('/downloads/here')

  it('normalises a prefix: ./ and leading / dropped, .. refused', () => {
    for (const raw of ['data/x', './data/x', '/data/x', './/data//x', 'data\\x'])
      expect(downloadPrefixOf(raw), raw).toBe('data/x')
    for (const raw of [undefined, '', '.', './', '/']) expect(downloadPrefixOf(raw), String(raw)).toBe('')
    expect(downloadPrefixOf('./data/')).toBe('data/')
    for (const raw of ['../x', 'a/../../b', 'C:/x'])
      expect(() => downloadPrefixOf(raw), raw).toThrow(expect.objectContaining({ code: 'UNSAFE_PATH' }))
  })

  it('keeps the whole key, or strips the prefix’s folders with stripPrefix', () => {
    const strip = (key: string, prefix: string): string => localRelativeOf(key, { prefix, stripPrefix: true })
    expect(localRelativeOf('a/b/c.txt', { prefix: 'a/b', stripPrefix: false })).toBe('a/b/c.txt')
    expect(strip('a/b/c.txt', 'a/b')).toBe('c.txt')
    expect(strip('a/b/c/d.txt', 'a/b/')).toBe('c/d.txt')
    expect(strip('a/bc.txt', 'a/b')).toBe('bc.txt')
    expect(strip('a/b', 'a/b')).toBe('b')
    expect(strip('x/y', '')).toBe('x/y')
    expect(localPathOf('a/b/c.txt', { targetDir, prefix: 'a/', stripPrefix: true }).localPath).toBe(
      path.join(targetDir, 'b', 'c.txt'),
    )
  })

  it('refuses keys that would leave the target folder or are not normalised keys, with UNSAFE_PATH', () => {
    for (const key of ['../evil.txt', 'a/../../evil.txt', '/etc/passwd', 'a//b', './a', 'a/', 'C:/x', 'a\\..\\..\\b', '..', '']) {
      expect(() => localPathOf(key, { targetDir, prefix: '', stripPrefix: false }), key).toThrow(
        expect.objectContaining({ code: 'UNSAFE_PATH' }),
      )
    }
    // `..x` is an ordinary name, not a way up.
    expect(localPathOf('..x/y', { targetDir, prefix: '', stripPrefix: false }).localPath).toBe(path.join(targetDir, '..x', 'y'))
  })

  it('lists the common folder of many keys, never a cut inside a name', () => {
    expect(commonFolderPrefix(['a/b/c', 'a/b/d'])).toBe('a/b/')
    expect(commonFolderPrefix(['a/.x', 'a/.y'])).toBe('a/')
    expect(commonFolderPrefix(['a/b', 'a/b/c'])).toBe('a/')
    expect(commonFolderPrefix(['x', 'y'])).toBe('')
    expect(commonFolderPrefix(['d/😀a', 'd/😁b'])).toBe('d/')
    expect(commonFolderPrefix([])).toBe('')
  })
})
