// Measures the transfer engine against a local Azurite with the azure_blob driver (key credential):
// 2,000 × 4 KiB files and one 256 MiB file, up and down, printing files/s and MiB/s. Not a test; run it with
//   node --import tsx --conditions=@wharf/source packages/datastores/src/transfer/measure.ts [--concurrency=32]
//     [--small=2000] [--big-mib=256] [--piece-mib=8] [--pieces-at-once=4] [--block-concurrency=4]
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import { createAzureBlobDriver } from '../azure-blob/driver.js'
import { downloadFiles } from './download.js'
import { listLocalFiles } from './local-files.js'
import { planUploadKeys } from './plan-keys.js'
import { uploadFiles } from './upload.js'

/** The part of test-support/azurite.ts used here. */
interface Azurite {
  endpoint: string
  accountName: string
  accountKey: string
  stop(): Promise<void>
}

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    small: { type: 'string', default: '2000' },
    'big-mib': { type: 'string', default: '256' },
    'piece-mib': { type: 'string', default: '8' },
    'pieces-at-once': { type: 'string', default: '4' },
    'block-concurrency': { type: 'string', default: '4' },
  },
})
const concurrency = Number(values.concurrency)
const smallCount = Number(values.small)
const bigBytes = Number(values['big-mib']) * 1024 * 1024
const pieces = { size: Number(values['piece-mib']) * 1024 * 1024, atOnce: Number(values['pieces-at-once']) }
const MiB = 1024 * 1024

// test-support is outside the package build (its tsconfig excludes it), so it is loaded at run time only.
const supportPath = '../test-support/azurite.js'
const { startAzurite } = (await import(supportPath)) as { startAzurite: () => Promise<Azurite> }

const work = await mkdtemp(path.join(tmpdir(), 'wharf-measure-'))
const azurite = await startAzurite()
try {
  const small = path.join(work, 'small')
  await mkdir(small)
  for (let i = 0; i < smallCount; i++) {
    const folder = path.join(small, `d${i % 20}`)
    if (i < 20) await mkdir(folder)
    await writeFile(path.join(folder, `f${i}.bin`), randomBytes(4096))
  }
  const big = path.join(work, 'big')
  await mkdir(big)
  const out = createWriteStream(path.join(big, 'big.bin'))
  for (let left = bigBytes; left > 0; left -= MiB) {
    if (!out.write(randomBytes(Math.min(MiB, left)))) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  }
  out.end()
  await finished(out)

  const service = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey))
  console.log(
    `azurite ${azurite.endpoint}; concurrency ${concurrency}; pieces ${pieces.size / MiB} MiB × ${pieces.atOnce}; block concurrency ${values['block-concurrency']}`,
  )
  for (const [name, folder] of [
    [`${smallCount} × 4 KiB`, small],
    [`1 × ${bigBytes / MiB} MiB`, big],
  ] as const) {
    const containerName = `measure-${randomBytes(4).toString('hex')}`
    await service.getContainerClient(containerName).create()
    const driver = createAzureBlobDriver({
      accountName: azurite.accountName,
      containerName,
      credential: { kind: 'key', accountKey: azurite.accountKey },
      endpoint: azurite.endpoint,
      concurrency: Number(values['block-concurrency']),
    })
    const items = planUploadKeys(
      (await listLocalFiles(folder)).map((f) => f.localPath),
      { relativeRoot: folder },
    )
    let cpu = process.cpuUsage()
    const rate = (started: number, files: number, bytes: number): string => {
      const seconds = (performance.now() - started) / 1000
      const used = process.cpuUsage(cpu)
      cpu = process.cpuUsage()
      const busy = (used.user + used.system) / 1e6 / seconds
      return `${seconds.toFixed(2)} s, ${(files / seconds).toFixed(0)} files/s, ${(bytes / MiB / seconds).toFixed(1)} MiB/s, this process ${(busy * 100).toFixed(0)}% of a core`
    }
    let started = performance.now()
    cpu = process.cpuUsage()
    const up = await uploadFiles(driver, items, { concurrency })
    console.log(`${name} upload:      ${rate(started, up.uploaded.length, up.bytes)} (failed ${up.failed.length})`)
    started = performance.now()
    cpu = process.cpuUsage()
    const again = await uploadFiles(driver, items, { concurrency })
    console.log(
      `${name} re-upload:   ${rate(started, again.unchanged.length, 0)} all unchanged: ${again.unchanged.length === items.length}`,
    )
    const target = path.join(work, `down-${containerName}`)
    started = performance.now()
    cpu = process.cpuUsage()
    const down = await downloadFiles(driver, { targetDir: target, concurrency, pieces })
    console.log(`${name} download:    ${rate(started, down.downloaded.length, down.bytes)} (failed ${down.failed.length})`)
    started = performance.now()
    cpu = process.cpuUsage()
    const downAgain = await downloadFiles(driver, { targetDir: target, concurrency, pieces })
    console.log(
      `${name} re-download: ${rate(started, downAgain.unchanged.length, 0)} all unchanged: ${downAgain.unchanged.length === items.length}`,
    )
    await service.getContainerClient(containerName).delete()
  }
} finally {
  await azurite.stop()
  await rm(work, { recursive: true, force: true })
}
