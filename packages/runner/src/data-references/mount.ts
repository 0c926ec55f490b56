import { spawn, type ChildProcess } from 'node:child_process'
import { access, constants, lstat, mkdir, readFile, readdir, rmdir, stat, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, printable, type DatastoreAccess } from '@wharf/contract'
import { Datastore } from '@wharf/sdk'
import { MASK, maskSecrets } from '../process/mask.js'
import type { PlacedReference } from './paths.js'
import { startListingServer } from './listing-server.js'
import { startSasProxy } from './sas-proxy.js'
import { entryKindAt, nothingAt } from './transfer.js'
import { tiedToRunner } from '../process/parent-death.js'

type Connection = Datastore['workspace']

/** Where the mount tools are; each can be pointed elsewhere (tests point rclone at a missing file). */
export interface MountTools {
  /** Default `rclone` on PATH. */
  rclone?: string
  /** Default `fusermount3` on PATH. */
  fusermount?: string
  /** Default `/dev/fuse`. */
  fuseDevice?: string
  /** How long a mount may take to appear. Default 20 s. */
  timeoutMs?: number
}

/** A mount made for a run; `unmount` is safe to call more than once. */
export interface Mount {
  readonly reference: PlacedReference
  /**
   * Set when the reference is the datastore's folder itself (a folder datastore this machine sees), not
   * a read-only mount: what the script writes there goes to the datastore. The folder's path.
   */
  readonly liveFolder?: string
  unmount(): Promise<void>
}

const INSTALL_HINT = 'install them with `apt-get install -y rclone fuse3`'

function unavailable(reference: PlacedReference, why: string): WharfError {
  return new WharfError(
    'MOUNT_UNAVAILABLE',
    `data reference "${reference.config.name}" (datastore "${printable(reference.config.datastore)}") cannot be mounted here: ${why}; or pass it with asDownload() instead of asMount()`,
    { details: { reference: reference.config.name, datastore: reference.config.datastore } },
  )
}

/**
 * Mounts a reference read-only before the script starts. A folder datastore this machine sees itself
 * needs no mount: the script gets that folder itself (writable: writes go to the datastore), through
 * a symlink at pathOnCompute when one is given. An Azure Blob container is mounted with
 * `rclone mount --read-only` through a loopback proxy that adds the current read SAS (renewed) to each
 * request; anything else (S3, Azure Files, a folder only the server sees) with `rclone mount` of a
 * loopback listing of the folder whose files are read through the server with the run token. No
 * storage key or SAS is ever on disk, in argv or in a log. A machine without rclone or FUSE is
 * MOUNT_UNAVAILABLE saying what is missing and suggesting asDownload().
 */
export async function mountReference(
  workspace: Connection,
  reference: PlacedReference,
  options: {
    tools?: MountTools
    signal?: AbortSignal
    /** The environment rclone runs with (PATH finds the tools); its own RCLONE_* settings are left out. */
    env?: Readonly<Record<string, string | undefined>>
  } = {},
): Promise<Mount> {
  const datastore = await Datastore.get(workspace, reference.config.datastore, options.signal ? { signal: options.signal } : {})
  const grant: DatastoreAccess = await workspace.client.datastoreAccess(
    datastore.name,
    'read',
    options.signal ? { signal: options.signal } : {},
  )
  const kind = await entryKindAt(datastore, reference.datastorePath, options.signal)
  // An empty mount would let the script run on nothing: say so before it starts, as a download does.
  if (kind === 'none' && reference.datastorePath !== '') throw nothingAt(reference)
  const isFile = kind === 'file'
  const folderPath = isFile ? path.posix.dirname(reference.datastorePath).replace(/^\.$/, '') : reference.datastorePath
  const tools = { tools: options.tools ?? {}, searchPath: options.env?.PATH ?? '' }
  const common = { reference, isFile, tools: options.tools ?? {}, env: options.env ?? {} }
  const mountThroughServer = async (): Promise<Mount> => {
    await checkTools(reference, tools)
    const listing = await startListingServer({
      client: workspace.client,
      datastore: datastore.name,
      folder: folderPath,
      ...(options.signal ? { signal: options.signal } : {}),
    })
    return rcloneMount({
      ...common,
      source: {
        config: { RCLONE_CONFIG_WHARF_TYPE: 'http', RCLONE_CONFIG_WHARF_URL: listing.url },
        remote: 'wharf:',
        secret: listing.url,
        close: () => listing.close(),
      },
    })
  }
  switch (grant.mode) {
    case 'filesystem': {
      // A folder only the server's machine sees is mounted through the server, as S3 is.
      if (!(await sameFolder(grant))) return mountThroughServer()
      return linkFolder(reference, { folder: path.join(grant.path, ...folderPath.split('/').filter(Boolean)), isFile })
    }
    case 'azure_sas': {
      // rclone 1.60 reads Azure file shares only with the account key: through the server instead.
      if (grant.kind !== 'azure_blob') return mountThroughServer()
      await checkTools(reference, tools)
      // rclone reads its SAS once; the proxy renews it, so the mount reads for as long as the run goes on.
      const proxy = await startSasProxy({
        grant,
        renew: async () => {
          const next = await workspace.client.datastoreAccess(datastore.name, 'read')
          if (next.mode !== 'azure_sas') {
            throw new WharfError(
              'DATASTORE_UNAVAILABLE',
              `datastore "${datastore.name}" is no longer reached with a SAS; run again`,
            )
          }
          return next
        },
      })
      return rcloneMount({
        ...common,
        source: {
          config: { RCLONE_CONFIG_WHARF_TYPE: 'azureblob', RCLONE_CONFIG_WHARF_SAS_URL: proxy.sasUrl },
          remote: `wharf:${[grant.containerName, folderPath].filter(Boolean).join('/')}`,
          secret: proxy.sasUrl,
          close: () => proxy.close(),
        },
      })
    }
    case 'proxy':
      return mountThroughServer()
  }
}

/**
 * A folder datastore this machine sees: the script is given the folder itself. With a pathOnCompute,
 * a symlink there leads to it (an empty folder there is replaced; anything else is refused, as for a
 * mount point) and goes when the run ends; without one, the reference's path is the folder.
 */
async function linkFolder(reference: PlacedReference, options: { folder: string; isFile: boolean }): Promise<Mount> {
  const { folder, isFile } = options
  const fileOf = (base: string): string => (isFile ? path.join(base, path.posix.basename(reference.datastorePath)) : base)
  if (reference.config.pathOnCompute === null) {
    reference.base = folder
    reference.path = fileOf(folder)
    return { reference, liveFolder: folder, unmount: () => Promise.resolve() }
  }
  const link = reference.base
  const existing = await lstat(link).catch(() => undefined)
  if (existing !== undefined) {
    const emptyFolder = existing.isDirectory() && (await readdir(link)).length === 0
    if (!emptyFolder) {
      throw unavailable(
        reference,
        `its pathOnCompute ${printable(link, 300)} already exists; give an empty or new folder as pathOnCompute`,
      )
    }
    await rmdir(link)
  }
  await mkdir(path.dirname(link), { recursive: true })
  await symlink(folder, link, 'dir')
  reference.path = fileOf(link)
  let unlinking: Promise<void> | undefined
  return {
    reference,
    liveFolder: folder,
    unmount() {
      unlinking ??= (async () => {
        const info = await lstat(link).catch(() => undefined)
        if (info?.isSymbolicLink()) await unlink(link).catch(() => undefined)
      })()
      return unlinking
    },
  }
}

async function sameFolder(grant: { path: string; device: number; inode: number }): Promise<boolean> {
  const info = await stat(grant.path).catch(() => undefined)
  return info !== undefined && info.isDirectory() && info.dev === grant.device && info.ino === grant.inode
}

async function checkTools(reference: PlacedReference, options: { tools: MountTools; searchPath: string }): Promise<void> {
  const { tools, searchPath } = options
  const missing: string[] = []
  if (!(await onPath(tools.rclone ?? 'rclone', searchPath))) missing.push(`rclone (${tools.rclone ?? 'rclone'} not found)`)
  if (!(await onPath(tools.fusermount ?? 'fusermount3', searchPath)))
    missing.push(`fuse3 (${tools.fusermount ?? 'fusermount3'} not found)`)
  const device = tools.fuseDevice ?? '/dev/fuse'
  if (
    !(await access(device, constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    ))
  ) {
    missing.push(`FUSE (${device} is missing or not usable; in a container, run it with --device /dev/fuse --cap-add SYS_ADMIN)`)
  }
  if (missing.length > 0) throw unavailable(reference, `${missing.join(', ')}; ${INSTALL_HINT}`)
}

async function onPath(program: string, searchPath: string): Promise<boolean> {
  const candidates = program.includes('/') ? [program] : searchPath.split(path.delimiter).map((dir) => path.join(dir, program))
  for (const candidate of candidates) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true
  }
  return false
}

/** What rclone mounts: its remote's settings (environment only), the remote, and the local server behind it. */
interface RcloneSource {
  config: Record<string, string>
  remote: string
  /** Cut out of rclone's output before it is shown. */
  secret: string
  close(): Promise<void>
}

interface RcloneMountOptions {
  reference: PlacedReference
  source: RcloneSource
  isFile: boolean
  tools: MountTools
  env: Readonly<Record<string, string | undefined>>
}

async function rcloneMount(options: RcloneMountOptions): Promise<Mount> {
  const { reference, source, isFile, tools } = options
  const mountPoint = reference.base
  await mkdir(mountPoint, { recursive: true })
  if ((await readdir(mountPoint)).length > 0) {
    await source.close()
    throw unavailable(
      reference,
      `its mount point ${printable(mountPoint, 300)} is not empty; give an empty or new folder as pathOnCompute`,
    )
  }
  const rcloneEnv: Record<string, string> = {}
  for (const [key, value] of Object.entries(options.env))
    if (value !== undefined && !key.startsWith('RCLONE_')) rcloneEnv[key] = value
  Object.assign(rcloneEnv, { RCLONE_CONFIG: '/dev/null' }, source.config)
  // rclone gets SIGTERM (and unmounts) when the runner dies, even a SIGKILLed one.
  const [launcher, ...args] = tiedToRunner(
    [tools.rclone ?? 'rclone', 'mount', source.remote, mountPoint, '--read-only', '--dir-cache-time', '10s'],
    'TERM',
  ) as [string, ...string[]]
  const child: ChildProcess = spawn(launcher, args, {
    env: rcloneEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000)
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.once('error', () => resolve(-1))
  })
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + (tools.timeoutMs ?? 20_000)
  while (!(await isMounted(mountPoint))) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL')
      await exited
      await source.close()
      const output = masked(stderr, source.secret).trim().slice(-1500)
      throw unavailable(reference, `rclone mount did not start (${output || 'no output'})`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  reference.path = isFile ? path.join(mountPoint, path.posix.basename(reference.datastorePath)) : mountPoint
  let unmounting: Promise<void> | undefined
  return {
    reference,
    unmount() {
      unmounting ??= (async () => {
        if (await isMounted(mountPoint)) {
          const code = await run(tools.fusermount ?? 'fusermount3', ['-u', mountPoint])
          // Busy (a process the script left still reads it): detach it lazily instead.
          if (code !== 0) await run(tools.fusermount ?? 'fusermount3', ['-uz', mountPoint])
        }
        if (!gone) {
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          await exited
          clearTimeout(timer)
        }
        await source.close()
      })()
      return unmounting
    },
  }
}

/** rclone's output with the local server's secret (and any SAS signature) cut out, so an error never shows it. */
function masked(text: string, secret: string): string {
  return maskSecrets(text, [secret]).replace(/sig=[^&\s"]+/g, `sig=${MASK}`)
}

/** Whether `/proc/mounts` lists a mount at `folder` (paths there escape space, tab, newline, backslash). */
export async function isMounted(folder: string): Promise<boolean> {
  const escaped = folder.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '')
  return mounts.split('\n').some((line) => line.split(' ')[1] === escaped)
}

function run(program: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: 'ignore' })
    child.once('exit', (code) => resolve(code))
    child.once('error', () => resolve(-1))
  })
}
