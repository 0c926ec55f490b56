import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasRclone, rcloneAzuriteEnv, runRclone, startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import { Datastore } from './datastore.js'
import { startSdkTestServer } from '../test-support/sdk-server.js'
import { Workspace } from '../workspace.js'
import { treeOf } from '../test-support/file-tree.js'

const available = hasRclone()
if (!available) console.log('skipped: rclone is not installed (apt-get install -y rclone) so the rclone interop tests cannot run')

describe.skipIf(!available)('interop with rclone on Azurite', () => {
  let t: Awaited<ReturnType<typeof startSdkTestServer>>
  let azurite: AzuriteInstance
  let work: string
  let ds: Datastore
  let env: Record<string, string>

  beforeAll(async () => {
    ;[t, azurite] = await Promise.all([startSdkTestServer(), startAzurite()])
    work = await mkdtemp(path.join(tmpdir(), 'wharf-rclone-'))
    env = rcloneAzuriteEnv(azurite)
    const ws = Workspace.connect({ url: t.url, spoolDir: path.join(work, 'spool') })
    ds = await Datastore.registerAzureBlobContainer({
      workspace: ws,
      datastoreName: 'shared',
      containerName: 'interop',
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      endpoint: azurite.endpoint,
      createIfNotExists: true,
    })
  })
  afterAll(async () => {
    await t?.stop()
    await azurite?.stop()
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('rclone lists what Wharf uploaded, verifies it by MD5 and reads it back byte for byte', async () => {
    const src = path.join(work, 'wharf-src')
    await mkdir(path.join(src, 'nested', 'deeper'), { recursive: true })
    await writeFile(path.join(src, 'small.txt'), 'hello from wharf\n')
    await writeFile(path.join(src, 'nested', 'blob.bin'), randomBytes(5 * 1024 * 1024 + 17)) // more than one block
    await writeFile(path.join(src, 'nested', 'deeper', 'empty'), '')
    const result = await ds.upload({ srcDir: src, targetPath: 'from-wharf', showProgress: false })
    expect(result.failed).toEqual([])

    const listed = await runRclone(['lsf', '-R', '--files-only', 'az:interop/from-wharf'], env)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout.trim().split('\n').sort()).toEqual(['nested/blob.bin', 'nested/deeper/empty', 'small.txt'])
    // `rclone check` compares sizes and the MD5 Azure keeps (Content-MD5, which Wharf sets on every blob).
    const check = await runRclone(['check', src, 'az:interop/from-wharf'], env)
    expect(check.code, check.stderr).toBe(0)
    expect(check.stderr).not.toMatch(/no common hash/i)
    expect(check.stderr).toMatch(/3 matching files/)
    const copied = path.join(work, 'rclone-copy')
    const copy = await runRclone(['copy', 'az:interop/from-wharf', copied], env)
    expect(copy.code, copy.stderr).toBe(0)
    expect(await treeOf(copied)).toEqual(await treeOf(src))
  })

  it('Wharf downloads what rclone uploaded, byte for byte', async () => {
    const src = path.join(work, 'rclone-src')
    await mkdir(path.join(src, 'a', 'b'), { recursive: true })
    await writeFile(path.join(src, 'a', 'one.csv'), 'x,y\n1,2\n')
    await writeFile(path.join(src, 'a', 'b', 'two.bin'), randomBytes(3 * 1024 * 1024 + 5))
    const upload = await runRclone(['copy', src, 'az:interop/from-rclone'], env)
    expect(upload.code, upload.stderr).toBe(0)
    const target = path.join(work, 'wharf-down')
    const count = await ds.download({ targetPath: target, prefix: 'from-rclone/', stripPrefix: true, showProgress: false })
    expect(count).toBe(2)
    expect(await treeOf(target)).toEqual(await treeOf(src))
  })
})
