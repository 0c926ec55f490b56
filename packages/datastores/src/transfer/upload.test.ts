import { rmSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import type { DatastoreDriver } from '../driver.js'
import { createFilesystemDriver } from '../filesystem/driver.js'
import { toDatastoreKey } from '../key.js'
import { codeOf, keysOf, readAll } from '../test-support/driver-contract.js'
import { listLocalFiles } from './local-files.js'
import { planUploadKeys, type UploadItem } from './plan-keys.js'
import type { TransferProgress } from './progress.js'
import { recordingDriver, tempFolder, writeFiles } from './test-support/fixtures.js'
import { uploadFiles } from './upload.js'

describe('uploadFiles (filesystem datastore)', () => {
  let local: string
  let root: string
  let driver: DatastoreDriver
  let removeAll: () => Promise<void>

  beforeEach(async () => {
    const made = await tempFolder('upload')
    local = path.join(made.dir, 'local')
    root = path.join(made.dir, 'store')
    await mkdir(local)
    await mkdir(root)
    driver = createFilesystemDriver({ root })
    removeAll = made.remove
  })

  afterEach(async () => {
    await removeAll()
  })

  const stored = async (key: string): Promise<string> => (await readAll(await driver.get(toDatastoreKey(key)))).toString()
  const itemsOf = async (): Promise<UploadItem[]> =>
    (await listLocalFiles(local)).map((f) => ({ localPath: f.localPath, key: `up/${f.relativePath}` }))

  it('takes sizes the caller already knows, and never stores a file whose size changed since as if whole', async () => {
    await writeFiles(local, { 'a.txt': 'aaaa', 'b.txt': 'bbbb' })
    const known = (await listLocalFiles(local)).map((f) => ({
      localPath: f.localPath,
      key: `up/${f.relativePath}`,
      size: f.size,
    }))
    await writeFiles(local, { 'b.txt': 'grown since the listing' })
    // The driver's own local-file copy checks the known size: the file fails and nothing is stored.
    const copied = await uploadFiles(driver, known, { overwrite: true })
    expect(copied.uploaded).toEqual(['up/a.txt'])
    expect(copied.failed.map((f) => [f.key, f.code])).toEqual([['up/b.txt', 'INVALID_ARGUMENT']])
    expect(copied.failed[0]?.message).toContain('changed size')
    expect(await codeOf(() => driver.get(toDatastoreKey('up/b.txt')))).toBe('FILE_NOT_FOUND')
    // A streamed put opens the file and sends what it holds now, whole.
    const streamed = await uploadFiles(recordingDriver(driver).driver, known, { overwrite: true })
    expect(streamed.uploaded).toEqual(['up/b.txt'])
    expect(streamed.unchanged).toEqual(['up/a.txt'])
    expect(await stored('up/b.txt')).toBe('grown since the listing')
  })

  // 12 files is more than the engine stats one by one, so it lists the common folder; 4 files are stat'ed.
  for (const count of [12, 4]) {
    it(`classifies ${count} files as uploaded, unchanged, skipped and (with overwrite) overwritten`, async () => {
      const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(2, '0')}.txt`)
      await writeFiles(local, Object.fromEntries(names.map((n) => [n, `content of ${n}`])))
      const [same, sameSize, otherSize] = names
      await writeFiles(root, {
        [`up/${same}`]: `content of ${same}`,
        [`up/${sameSize}`]: `CONTENT OF ${sameSize}`, // same size, other bytes: the filesystem keeps no MD5, so it is read to tell
        [`up/${otherSize}`]: 'short',
      })
      const { driver: recording, recorded } = recordingDriver(driver)
      const first = await uploadFiles(recording, await itemsOf())
      expect(first.unchanged).toEqual([`up/${same}`])
      expect(first.skipped).toEqual([`up/${sameSize}`, `up/${otherSize}`])
      expect(first.uploaded).toEqual(names.slice(3).map((n) => `up/${n}`))
      expect(first.overwritten).toEqual([])
      expect(first.failed).toEqual([])
      expect(first.bytes).toBe(names.slice(3).reduce((sum, n) => sum + `content of ${n}`.length, 0))
      expect(recorded.puts.sort()).toEqual(first.uploaded)
      if (count > 8) {
        expect(recorded.lists).toEqual(['up/'])
        expect(recorded.stats).toEqual([])
      } else {
        expect(recorded.lists).toEqual([])
        expect(recorded.stats.sort()).toEqual(names.map((n) => `up/${n}`))
      }
      expect(await stored(`up/${sameSize}`)).toBe(`CONTENT OF ${sameSize}`)
      expect(await stored(`up/${otherSize}`)).toBe('short')

      const second = await uploadFiles(driver, await itemsOf(), { overwrite: true })
      expect(second.overwritten).toEqual([`up/${sameSize}`, `up/${otherSize}`])
      expect(second.unchanged).toEqual([`up/${same}`, ...first.uploaded])
      expect(second.uploaded).toEqual([])
      expect(second.skipped).toEqual([])
      for (const n of names) expect(await stored(`up/${n}`)).toBe(`content of ${n}`)
    })
  }

  it('without overwrite, of two uploads racing to one new key exactly one stores it and the other reports it skipped', async () => {
    const other = path.join(path.dirname(local), 'other')
    await mkdir(other)
    const big = (fill: string): string => fill.repeat(2 * 1024 * 1024)
    await writeFiles(local, { 'x.bin': big('a') })
    await writeFiles(other, { 'x.bin': big('b') })
    // Through the driver's own local-file copy, and as a streamed put.
    for (const [round, target] of [driver, recordingDriver(driver).driver, driver, recordingDriver(driver).driver].entries()) {
      const key = `race/${round}.bin`
      const results = await Promise.all(
        [local, other].map((folder) =>
          uploadFiles(target, [{ localPath: path.join(folder, 'x.bin'), key }], { overwrite: false }),
        ),
      )
      expect(
        results.map((r) => r.uploaded.length + r.skipped.length),
        `round ${round}`,
      ).toEqual([1, 1])
      const winner = results.findIndex((r) => r.uploaded.length === 1)
      expect(winner, `round ${round}: ${JSON.stringify(results.map((r) => r.uploaded))}`).toBeGreaterThanOrEqual(0)
      expect(
        results.filter((r) => r.uploaded.length === 1),
        `round ${round}`,
      ).toHaveLength(1)
      expect((await stored(key)).slice(0, 1)).toBe(winner === 0 ? 'a' : 'b')
    }
  })

  it('resumes: after half was uploaded, a second run sends only the rest', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `part-${String(i).padStart(2, '0')}.bin`)
    await writeFiles(local, Object.fromEntries(names.map((n, i) => [n, Buffer.alloc(1000 + i, i)])))
    const items = planUploadKeys(
      (await listLocalFiles(local)).map((f) => f.localPath),
      { targetPath: 'set' },
    )
    const half = await uploadFiles(driver, items.slice(0, 10))
    expect(half.uploaded).toHaveLength(10)
    const { driver: recording, recorded } = recordingDriver(driver)
    const rest = await uploadFiles(recording, items)
    expect(rest.unchanged).toEqual(items.slice(0, 10).map((i) => i.key))
    expect(rest.uploaded).toEqual(items.slice(10).map((i) => i.key))
    expect(recorded.puts.sort()).toEqual(rest.uploaded)
  })

  it('an abort rejects with the signal’s reason and stores no partial file; running again completes the upload', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `n${String(i).padStart(2, '0')}.txt`)
    await writeFiles(local, Object.fromEntries(names.map((n) => [n, `${n} `.repeat(200)])))
    const controller = new AbortController()
    const { driver: recording } = recordingDriver(driver, {
      afterPut: () => {
        if (!controller.signal.aborted) controller.abort(new Error('stopped by the test'))
      },
    })
    const error = await uploadFiles(recording, await itemsOf(), { concurrency: 2, signal: controller.signal }).catch(
      (e: unknown) => e,
    )
    expect((error as Error).message).toBe('stopped by the test')
    const kept = await keysOf(driver)
    expect(kept.length).toBeGreaterThan(0)
    expect(kept.length).toBeLessThan(names.length)
    const again = await uploadFiles(driver, await itemsOf())
    expect(again.unchanged).toEqual(kept)
    expect([...again.unchanged, ...again.uploaded].sort()).toEqual(names.map((n) => `up/${n}`))
    expect(await keysOf(driver)).toEqual(names.map((n) => `up/${n}`))
  })

  it('fails only the files that cannot be read or stored, and uploads the rest', async () => {
    await writeFiles(local, { 'ok-1.txt': 'one', 'ok-2.txt': 'two', 'vanishes.txt': 'soon gone', 'folder/inner.txt': 'x' })
    await writeFiles(root, { 'up/blocker': 'a file where the engine needs a folder' })
    const items: UploadItem[] = [
      ...(await itemsOf()),
      { localPath: path.join(local, 'folder'), key: 'up/folder-as-file' },
      { localPath: path.join(local, 'ok-1.txt'), key: '../escape.txt' },
      { localPath: path.join(local, 'ok-2.txt'), key: 'up/blocker/inside.txt' },
    ]
    await rm(path.join(local, 'vanishes.txt'))
    const result = await uploadFiles(driver, items)
    expect(result.uploaded).toEqual(['up/folder/inner.txt', 'up/ok-1.txt', 'up/ok-2.txt'])
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([
      ['up/vanishes.txt', 'FILE_NOT_FOUND'],
      ['up/folder-as-file', 'INVALID_ARGUMENT'],
      ['../escape.txt', 'UNSAFE_PATH'],
      ['up/blocker/inside.txt', 'INVALID_ARGUMENT'],
    ])
    const vanished = result.failed[0]
    expect(vanished?.localPath).toBe(path.join(local, 'vanishes.txt'))
    expect(vanished?.message).toContain(path.join(local, 'vanishes.txt'))
    expect(result.failed[3]?.message).toMatch(/is a file in this filesystem datastore/)
    expect(await keysOf(driver)).toEqual(['up/blocker', 'up/folder/inner.txt', 'up/ok-1.txt', 'up/ok-2.txt'])
  })

  it('fails a file that disappears between planning and reading, with the others going on', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `g${i}.txt`)
    await writeFiles(local, Object.fromEntries(names.map((n) => [n, n])))
    const items = await itemsOf()
    // Removed once the upload has planned (its first progress report comes before any byte moves).
    const result = await uploadFiles(driver, items, {
      concurrency: 1,
      onProgress: (p) => {
        if (p.filesDone === 0) rmSync(path.join(local, 'g9.txt'))
      },
    })
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([['up/g9.txt', 'FILE_NOT_FOUND']])
    expect(result.uploaded).toHaveLength(9)
  })

  it('rejects two files for one key, bad options, and a storage it cannot reach', async () => {
    await writeFiles(local, { 'a.txt': 'a', 'b.txt': 'b' })
    const a = path.join(local, 'a.txt')
    const b = path.join(local, 'b.txt')
    const error = await uploadFiles(driver, [
      { localPath: a, key: 'x/y' },
      { localPath: b, key: 'x//y' },
    ]).catch((e: unknown) => e)
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toContain(a)
    expect((error as Error).message).toContain(b)
    expect(await codeOf(() => uploadFiles(driver, [{ localPath: a, key: 'a' }], { concurrency: 0 }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => uploadFiles(driver, [{ localPath: '', key: 'a' }]))).toBe('INVALID_ARGUMENT')
    const missing = createFilesystemDriver({ root: path.join(root, 'no', 'such') })
    const many = Array.from({ length: 12 }, (_, i) => ({ localPath: a, key: `k${i}` }))
    expect(await codeOf(() => uploadFiles(missing, many))).toBe('DATASTORE_UNAVAILABLE')
    expect(await codeOf(() => uploadFiles(missing, many.slice(0, 2)))).toBe('DATASTORE_UNAVAILABLE')
    expect(
      await codeOf(() => uploadFiles(driver, [{ localPath: a, key: 'a' }], { signal: AbortSignal.abort() })).catch(
        () => 'aborted',
      ),
    ).toBe('aborted')
  })

  it('reports progress while bytes flow and ends with the final numbers', async () => {
    await writeFiles(local, {
      'big.bin': Buffer.alloc(3 * 1024 * 1024, 7),
      'small.txt': 'small',
      'same.txt': 'same',
      'other.txt': 'local',
    })
    await writeFiles(root, { 'up/same.txt': 'same', 'up/other.txt': 'remote version' })
    const items = [...(await itemsOf()), { localPath: path.join(local, 'gone.txt'), key: 'up/gone.txt' }]
    const reports: TransferProgress[] = []
    const result = await uploadFiles(driver, items, { onProgress: (p) => reports.push(p) })
    const bytesTotal = 3 * 1024 * 1024 + 'small'.length + 'same'.length + 'local'.length
    expect(reports[0]).toEqual({ filesTotal: 5, filesDone: 0, bytesTotal, bytesDone: 0, skipped: 0, failed: 0 })
    expect(reports.at(-1)).toEqual({ filesTotal: 5, filesDone: 5, bytesTotal, bytesDone: bytesTotal, skipped: 1, failed: 1 })
    for (let i = 1; i < reports.length; i++) {
      expect(reports[i]!.bytesDone).toBeGreaterThanOrEqual(reports[i - 1]!.bytesDone)
      expect(reports[i]!.filesDone).toBeGreaterThanOrEqual(reports[i - 1]!.filesDone)
    }
    expect(result.bytes).toBe(3 * 1024 * 1024 + 'small'.length)
    expect(result.skipped).toEqual(['up/other.txt'])
    expect(result.unchanged).toEqual(['up/same.txt'])
    expect((await readFile(path.join(root, 'up', 'big.bin'))).equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true)
  })
})
