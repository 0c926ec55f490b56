import { stat } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, printable } from '@wharf/contract'
import { assertFolderWithin, createFilesystemDriver } from '@wharf/datastores'
import { nonEmpty, setting, type StorageKind } from './kind.js'

/** The settings of a filesystem datastore: its folder on the server's machine. */
export interface FilesystemSettings {
  path: string
}

/** A folder on the server's machine, inside the folders the policy allows; clients on the same machine use it directly. */
export const filesystemKind: StorageKind<'filesystem', FilesystemSettings> = {
  async plan(request, policy) {
    const given = nonEmpty(request.path, 'path', 'the folder path')
    if (!path.isAbsolute(given)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `the folder "${printable(given)}" must be an absolute path on the server's machine`,
        {
          details: { field: 'path' },
        },
      )
    }
    const folder = path.resolve(given)
    // Where it leads, or where `mkdir -p` would put it when it does not exist yet.
    await assertFolderWithin(folder, policy.filesystemRoots)
    return { kind: 'filesystem', settings: { path: folder }, authType: 'none', secret: undefined }
  },
  settings: (record) => ({ path: setting(record, 'path') }),
  createDriver: (record, context) =>
    createFilesystemDriver({ root: setting(record, 'path'), allowedRoots: context.policy.filesystemRoots }),
  /** The folder itself; the client checks device and inode to know it sees the same one. */
  async access(record, _operation, context) {
    const folder = setting(record, 'path')
    // The client would write there itself: never hand out a folder that now leads elsewhere.
    await assertFolderWithin(folder, context.policy.filesystemRoots)
    try {
      const info = await stat(folder)
      return { mode: 'filesystem', path: folder, device: info.dev, inode: info.ino }
    } catch {
      return { mode: 'proxy' }
    }
  },
}
