import { appendFileSync, truncateSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import { toDatastoreKey } from '../key.js'
import type { DatastoreDriver } from '../driver.js'
import { createFilesystemDriver } from '../filesystem/driver.js'
import { codeOf } from '../test-support/driver-contract.js'
import { downloadFiles, downloadRemoteFiles, type RemoteFile } from './download.js'
import { planPieces } from './fetch-to-file.js'
import type { TransferProgress } from './progress.js'
import { filesBelow, recordingDriver, sha256OfFile, tempFolder, writeFiles, writeGenerated } from './test-support/fixtures.js'

describe('downloadFiles (filesystem datastore)', () => {
  let base: string
  let root: string
  let target: string
  let driver: DatastoreDriver
  let removeAll: () => Promise<void>

  beforeEach(async () => {
    const made = await tempFolder('download')
    base = made.dir
    root = path.join(base, 'store')
    target = path.join(base, 'target')
    await mkdir(root)
    driver = createFilesystemDriver({ root })
    removeAll = made.remove
  })

  afterEach(async () => {
    await removeAll()
  })

  const local = async (relative: string): Promise<string> =>
    (await readFile(path.join(target, ...relative.split('/')))).toString()

  it('classifies files as downloaded, unchanged, skipped and (with overwrite) overwritten', async () => {
    await writeFiles(root, {
      'd/new.txt': 'new file',
      'd/same.txt': 'same',
      'd/same-size.txt': 'remote',
      'd/other-size.txt': 'remote version',
    })
    await writeFiles(target, { 'd/same.txt': 'same', 'd/same-size.txt': 'LOCAL!', 'd/other-size.txt': 'local' })
    const first = await downloadFiles(driver, { targetDir: target })
    expect(first).toEqual({
      downloaded: ['d/new.txt'],
      overwritten: [],
      unchanged: ['d/same.txt'],
      skipped: ['d/other-size.txt', 'd/same-size.txt'],
      failed: [],
      bytes: 'new file'.length,
    })
    expect(await local('d/same-size.txt')).toBe('LOCAL!')
    expect(await local('d/other-size.txt')).toBe('local')
    expect(await local('d/new.txt')).toBe('new file')

    const { driver: recording, recorded } = recordingDriver(driver)
    const second = await downloadFiles(recording, { targetDir: target, overwrite: true })
    expect(second.overwritten).toEqual(['d/other-size.txt', 'd/same-size.txt'])
    expect(second.unchanged).toEqual(['d/new.txt', 'd/same.txt'])
    expect(second.downloaded).toEqual([])
    expect(second.bytes).toBe('remote version'.length + 'remote'.length)
    expect(await local('d/same-size.txt')).toBe('remote')
    expect(await local('d/other-size.txt')).toBe('remote version')
    // Without a stored MD5, each same-size file is read once: the download itself tells whether it differs.
    expect(recorded.gets.map((g) => g.key).sort()).toEqual(['d/new.txt', 'd/other-size.txt', 'd/same-size.txt', 'd/same.txt'])
    expect(await filesBelow(target)).toEqual(['d/new.txt', 'd/other-size.txt', 'd/same-size.txt', 'd/same.txt'])
  })

  it('keeps the full key under the target, or strips the prefix’s folders with stripPrefix', async () => {
    await writeFiles(root, { 'data/a.txt': 'a', 'data/sub/b.txt': 'b', 'database.txt': 'db', 'other/c.txt': 'c' })
    const full = await downloadFiles(driver, { targetDir: path.join(target, 'full'), prefix: 'data' })
    expect(full.downloaded).toEqual(['data/a.txt', 'data/sub/b.txt', 'database.txt'])
    expect(await filesBelow(path.join(target, 'full'))).toEqual(['data/a.txt', 'data/sub/b.txt', 'database.txt'])

    const folder = await downloadFiles(driver, { targetDir: path.join(target, 'folder'), prefix: './data/', stripPrefix: true })
    expect(folder.downloaded).toEqual(['data/a.txt', 'data/sub/b.txt'])
    expect(await filesBelow(path.join(target, 'folder'))).toEqual(['a.txt', 'sub/b.txt'])

    await downloadFiles(driver, { targetDir: path.join(target, 'string'), prefix: '/data', stripPrefix: true })
    expect(await filesBelow(path.join(target, 'string'))).toEqual(['a.txt', 'database.txt', 'sub/b.txt'])

    await downloadFiles(driver, { targetDir: path.join(target, 'one'), prefix: 'data/sub/b.txt', stripPrefix: true })
    expect(await filesBelow(path.join(target, 'one'))).toEqual(['b.txt'])

    const nothing = await downloadFiles(driver, { targetDir: path.join(target, 'none'), prefix: 'nothing/here' })
    expect(nothing.downloaded).toEqual([])
    expect(await filesBelow(path.join(target, 'none'))).toEqual([])

    for (const prefix of ['../x', 'data/../../x', 'C:/x']) {
      expect(await codeOf(() => downloadFiles(driver, { targetDir: target, prefix })), prefix).toBe('UNSAFE_PATH')
    }
  })

  it('fails a key whose local folder is a link leading outside the target, writing nothing through it', async () => {
    await writeFiles(root, { 'link/evil.txt': 'evil', 'fine/ok.txt': 'ok' })
    const outside = path.join(base, 'outside')
    await mkdir(outside)
    await mkdir(target)
    await symlink(outside, path.join(target, 'link'))
    const result = await downloadFiles(driver, { targetDir: target })
    expect(result.downloaded).toEqual(['fine/ok.txt'])
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([['link/evil.txt', 'UNSAFE_PATH']])
    expect(await filesBelow(outside)).toEqual([])
  })

  it('fails a file where a local folder is in the way and a key whose folder is a local file; the rest are downloaded', async () => {
    await writeFiles(root, { 'data/x.txt': 'x', 'b.txt': 'b', 'c.txt': 'c' })
    await writeFiles(target, { data: 'a file named like the folder' })
    await mkdir(path.join(target, 'b.txt'))
    const result = await downloadFiles(driver, { targetDir: target, overwrite: true })
    expect(result.downloaded).toEqual(['c.txt'])
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([
      ['b.txt', 'INVALID_ARGUMENT'],
      ['data/x.txt', 'INVALID_ARGUMENT'],
    ])
    expect(result.failed[0]?.message).toMatch(/a folder is there/)
    expect(result.failed[1]?.message).toMatch(/is a file, so it cannot be a folder/)
    expect(await filesBelow(target)).toEqual(['c.txt', 'data'])
  })

  it('downloads a 40 MiB file as parallel byte ranges, byte-identical', async () => {
    const size = 40 * 1024 * 1024 + 12_345
    await writeGenerated(path.join(root, 'big', 'model.bin'), { size, seed: 11 })
    const { driver: recording, recorded } = recordingDriver(driver)
    const reports: TransferProgress[] = []
    const result = await downloadFiles(recording, { targetDir: target, onProgress: (p) => reports.push(p) })
    expect(result.downloaded).toEqual(['big/model.bin'])
    expect(result.bytes).toBe(size)
    expect(await sha256OfFile(path.join(target, 'big', 'model.bin'))).toBe(
      await sha256OfFile(path.join(root, 'big', 'model.bin')),
    )
    const ranges = recorded.gets.map((g) => g.range)
    // The default pieces: 16 MiB each.
    const piece = 16 * 1024 * 1024
    expect(ranges).toHaveLength(3)
    expect(ranges.map((r) => r?.start).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2].map((i) => i * piece))
    expect(ranges.every((r) => r?.end === Math.min((r?.start ?? 0) + piece, size) - 1)).toBe(true)
    expect(reports.at(-1)).toEqual({ filesTotal: 1, filesDone: 1, bytesTotal: size, bytesDone: size, skipped: 0, failed: 0 })
    expect(await filesBelow(target)).toEqual(['big/model.bin'])
  })

  it('downloads a given list by the same rule, checking sha256 as ranges stream, and keeps nothing of a damaged file', async () => {
    const size = 3 * 1024 * 1024 + 777
    await writeGenerated(path.join(root, 'run', 'weights.bin'), { size, seed: 5 })
    await writeFiles(root, { 'run/log.txt': 'epoch 1\n' })
    const { driver: recording, recorded } = recordingDriver(driver)
    const fileOf = async (key: string, sha256: string, relative?: string): Promise<RemoteFile> => ({
      key,
      size: (await readFile(path.join(root, key))).length,
      digest: { algorithm: 'sha256', value: sha256 },
      open: (get) => recording.get(toDatastoreKey(key), get),
      ...(relative === undefined ? {} : { relative }),
    })
    const weights = await fileOf('run/weights.bin', await sha256OfFile(path.join(root, 'run', 'weights.bin')))
    const files = [
      weights,
      await fileOf('run/log.txt', await sha256OfFile(path.join(root, 'run', 'log.txt')), 'notes/log.txt'),
      { ...weights, key: '../escape.txt' },
    ]
    const pieces = { from: 1024 * 1024, size: 512 * 1024, atOnce: 4 }
    const first = await downloadRemoteFiles(files, { targetDir: target, pieces })
    expect(first.downloaded).toEqual(['run/weights.bin', 'run/log.txt'])
    expect(first.failed.map((f) => [f.key, f.code])).toEqual([['../escape.txt', 'UNSAFE_PATH']])
    expect(await sha256OfFile(path.join(target, 'run', 'weights.bin'))).toBe(weights.digest?.value)
    expect(await local('notes/log.txt')).toBe('epoch 1\n')
    expect(recorded.gets.filter((g) => g.range !== undefined)).toHaveLength(planPieces(size, pieces, { staggered: true }).length)

    // Identical files are left alone; a different one is skipped unless overwrite.
    await writeFile(path.join(target, 'notes', 'log.txt'), 'edited\n')
    const again = await downloadRemoteFiles(files.slice(0, 2), { targetDir: target, pieces })
    expect([again.unchanged, again.skipped]).toEqual([['run/weights.bin'], ['run/log.txt']])
    expect(await local('notes/log.txt')).toBe('edited\n')
    const forced = await downloadRemoteFiles(files.slice(0, 2), { targetDir: target, pieces, overwrite: true })
    expect([forced.unchanged, forced.overwritten]).toEqual([['run/weights.bin'], ['run/log.txt']])
    expect(await local('notes/log.txt')).toBe('epoch 1\n')

    const damaged = await downloadRemoteFiles([{ ...weights, digest: { algorithm: 'sha256', value: '0'.repeat(64) } }], {
      targetDir: path.join(base, 'damaged'),
      pieces,
    })
    expect(damaged.failed[0]?.message).toMatch(/arrived damaged: the content does not match its stored sha256/)
    expect(await filesBelow(path.join(base, 'damaged'))).toEqual([])
  })

  it('plans ranges that cover the file once, the first ones growing when a digest is computed in order', () => {
    const pieces = { from: 1, size: 16 * 1024 * 1024, atOnce: 8 }
    const size = 200 * 1024 * 1024 + 3
    for (const staggered of [false, true]) {
      const plan = planPieces(size, pieces, { staggered })
      expect(plan[0]?.start).toBe(0)
      expect(plan.at(-1)?.end).toBe(size)
      expect(plan.every((piece, i) => i === 0 || piece.start === plan[i - 1]?.end)).toBe(true)
      const lengths = plan.map((piece) => piece.end - piece.start)
      expect(lengths.slice(8, -1).every((length) => length === pieces.size)).toBe(true)
      const first = lengths.slice(0, 8)
      expect(first.every((length, i) => (staggered ? i === 0 || length > (first[i - 1] ?? 0) : length === pieces.size))).toBe(
        true,
      )
    }
  })

  it('fails a file that changed size after the listing, leaving no partial local file, and downloads the rest', async () => {
    const size = 33 * 1024 * 1024
    await writeGenerated(path.join(root, 'shrinks.bin'), { size, seed: 3 })
    await writeFiles(root, { 'grows.txt': 'twelve bytes', 'steady.txt': 'steady' })
    // The first report comes once the listing is done, before any byte moves.
    let changed = false
    const result = await downloadFiles(driver, {
      targetDir: target,
      onProgress: () => {
        if (changed) return
        changed = true
        truncateSync(path.join(root, 'shrinks.bin'), size - 9 * 1024 * 1024)
        appendFileSync(path.join(root, 'grows.txt'), ' and more')
      },
    })
    expect(result.downloaded).toEqual(['steady.txt'])
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([
      ['grows.txt', 'DATASTORE_UNAVAILABLE'],
      ['shrinks.bin', 'DATASTORE_UNAVAILABLE'],
    ])
    for (const failure of result.failed) expect(failure.message).toMatch(/changed while it was downloaded/)
    expect(await filesBelow(target)).toEqual(['steady.txt'])
  })

  it('an abort rejects with the signal’s reason and removes its temp files', async () => {
    await writeGenerated(path.join(root, 'big.bin'), { size: 40 * 1024 * 1024, seed: 5 })
    await writeFiles(root, { 'small.txt': 'small' })
    const controller = new AbortController()
    const { driver: recording } = recordingDriver(driver, {
      beforeGet: (_key, options) => {
        if (options.range && options.range.start > 0) controller.abort(new Error('stopped by the test'))
      },
    })
    const error = await downloadFiles(recording, { targetDir: target, concurrency: 1, signal: controller.signal }).catch(
      (e: unknown) => e,
    )
    expect((error as Error).message).toBe('stopped by the test')
    const left = await filesBelow(target)
    expect(left.filter((name) => name.includes('.wharf-tmp-'))).toEqual([])
    expect(left).not.toContain('big.bin')
  })

  it('reports progress with the final numbers, failures and skips included', async () => {
    await writeFiles(root, { 'a.txt': 'aaaa', 'b.txt': 'bb', 'c.txt': 'remote' })
    await writeFiles(target, { 'c.txt': 'local!' })
    await mkdir(path.join(target, 'b.txt'))
    const reports: TransferProgress[] = []
    await downloadFiles(driver, { targetDir: target, onProgress: (p) => reports.push(p) })
    expect(reports[0]).toEqual({ filesTotal: 3, filesDone: 0, bytesTotal: 12, bytesDone: 0, skipped: 0, failed: 0 })
    expect(reports.at(-1)).toEqual({ filesTotal: 3, filesDone: 3, bytesTotal: 12, bytesDone: 12, skipped: 1, failed: 1 })
  })

  it('rejects a target that is a file, bad options, and a storage it cannot list', async () => {
    await writeFile(path.join(base, 'a-file'), 'x')
    expect(await codeOf(() => downloadFiles(driver, { targetDir: path.join(base, 'a-file') }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => downloadFiles(driver, { targetDir: path.join(base, 'a-file', 'below') }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => downloadFiles(driver, { targetDir: '' }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => downloadFiles(driver, { targetDir: target, concurrency: 1.5 }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => downloadFiles(driver, { targetDir: target, pieces: { size: 0 } }))).toBe('INVALID_ARGUMENT')
    const error = await downloadFiles(createFilesystemDriver({ root: path.join(base, 'missing') }), { targetDir: target }).catch(
      (e: unknown) => e,
    )
    expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
  })
})
