import { lstat, mkdtemp, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataReferenceConfig } from '@wharf/contract'
import { Datastore, Workspace } from '@wharf/sdk'
import { startTestServer, useAzuriteBlobServer, type TestServer } from '@wharf/server/test-support'
import { mountSkipReason } from '../test-support/runs.js'
import { startListingServer } from './listing-server.js'
import { isMounted, mountReference } from './mount.js'
import { placeReference } from './paths.js'

const canMount = mountSkipReason('mounting an Azure Blob datastore with rclone') === undefined
const env = { PATH: process.env.PATH ?? '' }

function reference(config: Partial<DataReferenceConfig> & { name: string; datastore: string }): DataReferenceConfig {
  return { pathOnDatastore: null, mode: 'mount', pathOnCompute: null, overwrite: false, ...config }
}

describe.skipIf(!canMount)('mounting an Azure Blob datastore with rclone (Azurite)', () => {
  const azurite = useAzuriteBlobServer()
  let dir: string
  let workspace: Workspace

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-mount-'))
    workspace = Workspace.connect({ url: azurite.server.url, spoolDir: path.join(dir, 'spool') })
    const source = path.join(dir, 'source')
    await mkdir(path.join(source, 'inputs', 'nested'), { recursive: true })
    await writeFile(path.join(source, 'inputs', 'train.csv'), 'a,b\n1,2\n')
    await writeFile(path.join(source, 'inputs', 'nested', 'deep.txt'), 'deep')
    const datastore = await Datastore.get(workspace, 'workspaceblobstore')
    const uploaded = await datastore.upload({ srcDir: source, showProgress: false })
    expect(uploaded.failed).toEqual([])
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('mounts a folder read-only, the script reads it, and unmount takes it away', async () => {
    const placed = placeReference(reference({ name: 'inputs', datastore: 'workspaceblobstore', pathOnDatastore: 'inputs' }), {
      runId: 'r1',
      runFolder: path.join(dir, 'run-1'),
      workingFolder: path.join(dir, 'run-1', 'wd'),
    })
    const mount = await mountReference(workspace, placed, { env })
    try {
      expect(placed.path).toBe(path.join(dir, 'run-1', 'data', 'inputs'))
      expect(await isMounted(placed.path)).toBe(true)
      expect((await readdir(placed.path)).sort()).toEqual(['nested', 'train.csv'])
      expect(await readFile(path.join(placed.path, 'train.csv'), 'utf8')).toBe('a,b\n1,2\n')
      expect(await readFile(path.join(placed.path, 'nested', 'deep.txt'), 'utf8')).toBe('deep')
      await expect(writeFile(path.join(placed.path, 'new.txt'), 'x')).rejects.toThrow()
    } finally {
      await mount.unmount()
    }
    expect(await isMounted(placed.path)).toBe(false)
    expect(await readdir(placed.path)).toEqual([])
    await mount.unmount() // twice is harmless
  })

  it('mounts the folder of a one-file reference and points the path at the file', async () => {
    const placed = placeReference(
      reference({ name: 'csv', datastore: 'workspaceblobstore', pathOnDatastore: 'inputs/train.csv', pathOnCompute: 'mnt/csv' }),
      { runId: 'r2', runFolder: path.join(dir, 'run-2'), workingFolder: path.join(dir, 'run-2', 'wd') },
    )
    const mount = await mountReference(workspace, placed, { env })
    try {
      expect(placed.path).toBe(path.join(dir, 'run-2', 'wd', 'mnt', 'csv', 'train.csv'))
      expect(await readFile(placed.path, 'utf8')).toBe('a,b\n1,2\n')
    } finally {
      await mount.unmount()
    }
  })

  it('says FILE_NOT_FOUND before mounting a path that holds nothing', async () => {
    const placed = placeReference(reference({ name: 'gone', datastore: 'workspaceblobstore', pathOnDatastore: 'no/such' }), {
      runId: 'r0',
      runFolder: path.join(dir, 'run-0'),
      workingFolder: path.join(dir, 'run-0', 'wd'),
    })
    await expect(mountReference(workspace, placed, { env })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringContaining('holds nothing at "no/such"') as string,
    })
  })

  it('is MOUNT_UNAVAILABLE, naming what to install and asDownload(), when rclone is missing', async () => {
    const placed = placeReference(reference({ name: 'inputs', datastore: 'workspaceblobstore', pathOnDatastore: 'inputs' }), {
      runId: 'r3',
      runFolder: path.join(dir, 'run-3'),
      workingFolder: path.join(dir, 'run-3', 'wd'),
    })
    const error = await mountReference(workspace, placed, { env, tools: { rclone: path.join(dir, 'no-rclone') } }).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'MOUNT_UNAVAILABLE' })
    const message = (error as Error).message
    expect(message).toContain('rclone')
    expect(message).toContain('apt-get install -y rclone fuse3')
    expect(message).toContain('asDownload()')
  })

  it('is MOUNT_UNAVAILABLE when FUSE is missing', async () => {
    const placed = placeReference(reference({ name: 'inputs', datastore: 'workspaceblobstore' }), {
      runId: 'r4',
      runFolder: path.join(dir, 'run-4'),
      workingFolder: path.join(dir, 'run-4', 'wd'),
    })
    await expect(
      mountReference(workspace, placed, { env, tools: { fuseDevice: path.join(dir, 'no-fuse') } }),
    ).rejects.toMatchObject({
      code: 'MOUNT_UNAVAILABLE',
      message: expect.stringContaining('FUSE') as string,
    })
  })
})

describe('mounting a folder datastore this machine sees', () => {
  let server: TestServer
  let dir: string
  let workspace: Workspace
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-mount-fs-'))
    server = await startTestServer('sqlite', { config: { filesystemRoots: [dir] } })
    workspace = Workspace.connect({ url: server.url, spoolDir: path.join(dir, 'spool') })
    await mkdir(path.join(dir, 'shared', 'sets', 'a'), { recursive: true })
    await writeFile(path.join(dir, 'shared', 'sets', 'a', 'x.txt'), 'x')
    await Datastore.registerFilesystem({ workspace, datastoreName: 'shared', path: path.join(dir, 'shared') })
  })
  afterAll(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves a folder as rclone reads one: HTML indexes, sizes, ranges through the server, nothing without its secret', async () => {
    const listing = await startListingServer({ client: workspace.client, datastore: 'shared', folder: 'sets' })
    try {
      expect(listing.fileCount).toBe(1)
      const index = await fetch(listing.url)
      expect(await index.text()).toContain('<a href="a/">a/</a>')
      expect(await (await fetch(`${listing.url}a/`)).text()).toContain('<a href="x.txt">x.txt</a>')
      const head = await fetch(`${listing.url}a/x.txt`, { method: 'HEAD' })
      expect(head.headers.get('content-length')).toBe('1')
      expect(await (await fetch(`${listing.url}a/x.txt`)).text()).toBe('x')
      expect((await fetch(`${listing.url}a/missing.txt`)).status).toBe(404)
      const root = new URL(listing.url)
      expect((await fetch(`${root.origin}/guess/a/x.txt`)).status).toBe(403)
    } finally {
      await listing.close()
    }
  })

  it('points the reference straight at the folder, with no mount', async () => {
    const placed = placeReference(reference({ name: 'sets', datastore: 'shared', pathOnDatastore: 'sets/a' }), {
      runId: 'r5',
      runFolder: path.join(dir, 'run-5'),
      workingFolder: path.join(dir, 'run-5', 'wd'),
    })
    const mount = await mountReference(workspace, placed, { env })
    expect(placed.path).toBe(path.join(dir, 'shared', 'sets', 'a'))
    expect(mount.liveFolder).toBe(path.join(dir, 'shared', 'sets', 'a'))
    expect(await readFile(path.join(placed.path, 'x.txt'), 'utf8')).toBe('x')
    await mount.unmount()
    expect(await readFile(path.join(placed.path, 'x.txt'), 'utf8')).toBe('x')
  })

  it('honours pathOnCompute with a symlink to the folder there, taken away by unmount', async () => {
    const wd = path.join(dir, 'run-6', 'wd')
    await mkdir(path.join(wd, 'mnt', 'sets'), { recursive: true }) // an empty folder there is replaced
    const placed = placeReference(
      reference({ name: 'sets', datastore: 'shared', pathOnDatastore: 'sets/a', pathOnCompute: 'mnt/sets' }),
      { runId: 'r6', runFolder: path.join(dir, 'run-6'), workingFolder: wd },
    )
    const mount = await mountReference(workspace, placed, { env })
    const link = path.join(wd, 'mnt', 'sets')
    expect(placed.path).toBe(link)
    expect(mount.liveFolder).toBe(path.join(dir, 'shared', 'sets', 'a'))
    expect((await lstat(link)).isSymbolicLink()).toBe(true)
    expect(await readlink(link)).toBe(path.join(dir, 'shared', 'sets', 'a'))
    expect(await readFile(path.join(placed.path, 'x.txt'), 'utf8')).toBe('x')
    await mount.unmount()
    await mount.unmount() // twice is harmless
    await expect(lstat(link)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(path.join(dir, 'shared', 'sets', 'a', 'x.txt'), 'utf8')).toBe('x')
  })

  it('points a one-file reference with a pathOnCompute at the file through the link, and refuses a path already in use', async () => {
    const wd = path.join(dir, 'run-7', 'wd')
    const placed = placeReference(
      reference({ name: 'x', datastore: 'shared', pathOnDatastore: 'sets/a/x.txt', pathOnCompute: 'in/x' }),
      { runId: 'r7', runFolder: path.join(dir, 'run-7'), workingFolder: wd },
    )
    const mount = await mountReference(workspace, placed, { env })
    expect(placed.path).toBe(path.join(wd, 'in', 'x', 'x.txt'))
    expect(await readFile(placed.path, 'utf8')).toBe('x')
    await mount.unmount()
    await mkdir(path.join(wd, 'taken'), { recursive: true })
    await writeFile(path.join(wd, 'taken', 'keep.txt'), 'mine')
    const taken = placeReference(
      reference({ name: 'sets', datastore: 'shared', pathOnDatastore: 'sets/a', pathOnCompute: 'taken' }),
      { runId: 'r7', runFolder: path.join(dir, 'run-7'), workingFolder: wd },
    )
    await expect(mountReference(workspace, taken, { env })).rejects.toMatchObject({ code: 'MOUNT_UNAVAILABLE' })
    expect(await readFile(path.join(wd, 'taken', 'keep.txt'), 'utf8')).toBe('mine')
  })
})
