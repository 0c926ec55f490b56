import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TransferProgress } from '@wharf/datastores'
import { Workspace } from '../workspace.js'
import { startSdkTestServer } from '../test-support/sdk-server.js'
import { downloadVerified, requireAllPlaced, serverFile } from './download.js'

let t: Awaited<ReturnType<typeof startSdkTestServer>>
let ws: Workspace
let work: string

beforeAll(async () => {
  t = await startSdkTestServer()
  work = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-download-'))
  ws = Workspace.connect({ url: t.url, spoolDir: path.join(work, 'spool') })
})

afterAll(async () => {
  await t?.stop()
  await rm(work, { recursive: true, force: true })
})

describe('downloadVerified over the server', () => {
  it('downloads a big artifact as sha256-checked parallel ranges and reports progress; a different local file is refused by name', async () => {
    // 40 MiB: above the 32 MiB from which files come as ranges.
    const big = randomBytes(40 * 1024 * 1024)
    const run = await ws.experiment('download').startLogging({ outputs: false })
    const source = path.join(work, 'big.bin')
    await writeFile(source, big)
    const artifact = await run.uploadFile('outputs/big.bin', source)
    await run.complete()
    const ranges: (string | undefined)[] = []
    const file = serverFile({
      key: artifact.path,
      size: artifact.size,
      sha256: artifact.sha256,
      fetch: (call) => {
        ranges.push(call.range ? `${call.range.start}-${call.range.end ?? ''}` : undefined)
        return ws.client.downloadArtifact(run.id, artifact.path, call)
      },
    })
    const target = path.join(work, 'out')
    const reports: TransferProgress[] = []
    const result = await downloadVerified({ files: [file] }, { targetDir: target, onProgress: (p) => reports.push(p) })
    expect(result.downloaded).toEqual(['outputs/big.bin'])
    expect(ranges.length).toBeGreaterThan(2)
    expect(ranges.every((range) => range !== undefined)).toBe(true)
    const local = path.join(target, 'outputs', 'big.bin')
    expect(
      createHash('sha256')
        .update(await readFile(local))
        .digest('hex'),
    ).toBe(createHash('sha256').update(big).digest('hex'))
    expect(reports.at(-1)).toMatchObject({ filesDone: 1, bytesDone: big.length, bytesTotal: big.length })

    const localPathOf = (key: string): string => path.join(target, ...key.split('/'))
    const again = await downloadVerified({ files: [file] }, { targetDir: target })
    expect(again.unchanged).toEqual(['outputs/big.bin'])
    await writeFile(local, 'edited')
    const refused = await downloadVerified({ files: [file] }, { targetDir: target })
    expect(() => requireAllPlaced(refused, { overwriteHint: 'pass overwrite: true to replace them', localPathOf })).toThrow(
      expect.objectContaining({ code: 'FILE_EXISTS', message: expect.stringContaining(local) as unknown }),
    )
    expect(await readFile(local, 'utf8')).toBe('edited')

    const damaged = await downloadVerified(
      { files: [{ ...file, digest: { algorithm: 'sha256', value: '0'.repeat(64) } }] },
      { targetDir: path.join(work, 'damaged') },
    )
    expect(() => requireAllPlaced(damaged, { overwriteHint: '', localPathOf })).toThrow(/arrived damaged/)
    const left = await readdir(path.join(work, 'damaged'), { recursive: true, withFileTypes: true })
    expect(left.filter((entry) => !entry.isDirectory()).map((entry) => entry.name)).toEqual([])
  })
})
