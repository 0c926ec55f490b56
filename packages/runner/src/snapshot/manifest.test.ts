import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WharfError } from '@wharf/contract'
import { buildSnapshotManifest } from './manifest.js'

let root: string

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'wharf-snapshot-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function tree(files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true })
    await writeFile(path.join(root, name), content)
  }
}

async function paths(): Promise<string[]> {
  return (await buildSnapshotManifest(root)).files.map((file) => file.path)
}

describe('buildSnapshotManifest', () => {
  it('lists every file with its sha256, size and executable bit, in byte order, and leaves .git out', async () => {
    await tree({
      'train.py': 'print(1)\n',
      'b/x.txt': 'x',
      'a.sh': '#!/bin/sh\n',
      '.git/HEAD': 'ref',
      '.git/objects/ab': 'z',
      'Z.txt': 'z',
    })
    await chmod(path.join(root, 'a.sh'), 0o755)
    const manifest = await buildSnapshotManifest(root)
    expect(manifest.files.map((f) => f.path)).toEqual(['Z.txt', 'a.sh', 'b/x.txt', 'train.py'])
    const train = manifest.files.find((f) => f.path === 'train.py')!
    expect(train.sha256).toBe(createHash('sha256').update('print(1)\n').digest('hex'))
    expect(train.size).toBe(9)
    expect(train.executable).toBeUndefined()
    expect(manifest.files.find((f) => f.path === 'a.sh')!.executable).toBe(true)
    expect(manifest.totalBytes).toBe(9 + 1 + 10 + 1)
    expect(manifest.ignoreFile).toBeUndefined()
  })

  it('always leaves .wharf/ out (it holds the workspace auth token), at the root and deeper, whatever the ignore files say', async () => {
    await tree({
      'train.py': 'print(1)\n',
      '.wharf/config.json': '{"token":"secret-token"}',
      'sub/.wharf/config.json': '{"token":"secret-token"}',
      '.wharfignore': '!.wharf/\n!.wharf/config.json\n',
      '.wharf-notes.txt': 'kept',
    })
    expect(await paths()).toEqual(['.wharf-notes.txt', '.wharfignore', 'train.py'])
  })

  it('honours .wharfignore before .amlignore before .gitignore', async () => {
    await tree({ 'a.bin': '1', 'b.bin': '2', 'c.bin': '3', keep: 'k', '.gitignore': 'a.bin\n', '.amlignore': 'b.bin\n' })
    expect(await paths()).toEqual(['.amlignore', '.gitignore', 'a.bin', 'c.bin', 'keep'])
    await writeFile(path.join(root, '.wharfignore'), 'c.bin\n.amlignore\n')
    expect(await paths()).toEqual(['.gitignore', '.wharfignore', 'a.bin', 'b.bin', 'keep'])
    expect((await buildSnapshotManifest(root)).ignoreFile).toBe('.wharfignore')
  })

  it('reads nested ignore files relative to their folder, lets them re-include, and never enters an ignored folder', async () => {
    await tree({
      '.gitignore': '*.log\ndata/\n/top-only.txt\n',
      'top-only.txt': 't',
      'src/top-only.txt': 's',
      'run.log': 'l',
      'data/big.csv': 'd',
      'src/data/inner.csv': 'i',
      'src/.gitignore': '!keep.log\ncache/\n',
      'src/keep.log': 'k',
      'src/drop.log': 'd',
      'src/cache/x': 'c',
      'src/deep/a/b.txt': 'b',
      'node_modules/pkg/index.js': 'n',
      'build/out.o': 'o',
    })
    await writeFile(path.join(root, '.gitignore'), '*.log\ndata/\n/top-only.txt\nnode_modules\nbuild/**\n')
    expect(await paths()).toEqual(['.gitignore', 'src/.gitignore', 'src/deep/a/b.txt', 'src/keep.log', 'src/top-only.txt'])
  })

  it('refuses a folder over the file-count limit, naming the largest files and the ignore file to write', async () => {
    await tree({ 'a.txt': 'a', 'big.bin': 'x'.repeat(5000), 'mid.bin': 'x'.repeat(300), 'c.txt': 'c' })
    const error = await buildSnapshotManifest(root, { limits: { snapshotFiles: 3, snapshotBytes: 1e9 } }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WharfError)
    const wharf = error as WharfError
    expect(wharf.code).toBe('LIMIT_EXCEEDED')
    expect(wharf.message).toContain('4 files, over the snapshot limit of 3 files')
    expect(wharf.message).toMatch(/largest files: big\.bin \(4\.9 KiB\), mid\.bin \(300 B\), a\.txt \(1 B\)/)
    expect(wharf.message).toContain('Write a .wharfignore file')
    expect(wharf.details).toMatchObject({ limit: 'snapshotFiles', max: 3, actual: 4, ignoreFile: '.wharfignore' })
  })

  it('refuses a folder over the size limit and names the ignore file already in use', async () => {
    await tree({ '.amlignore': '*.tmp\n', 'model.ckpt': 'x'.repeat(2048), 'train.py': 'p' })
    const error = (await buildSnapshotManifest(root, { limits: { snapshotFiles: 100, snapshotBytes: 1024 } }).catch(
      (e: unknown) => e,
    )) as WharfError
    expect(error.code).toBe('LIMIT_EXCEEDED')
    expect(error.message).toContain('over the snapshot limit of 1.0 KiB (server limit "snapshotBytes")')
    expect(error.message).toContain('model.ckpt (2.0 KiB)')
    expect(error.message).toContain('in its .amlignore')
    expect(error.details).toMatchObject({ limit: 'snapshotBytes', ignoreFile: '.amlignore' })
  })

  it('says FILE_NOT_FOUND for a missing folder', async () => {
    await expect(buildSnapshotManifest(path.join(root, 'nope'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
  })
})
