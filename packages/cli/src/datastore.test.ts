import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Datastore, DatastoreFile } from '@wharf/contract'
import { putBlobWithRawName, setStoredMd5, startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import { startCliTestServer, type CliTestServer } from './test-support/cli-server.js'
import { runWharf, runWharfOnTerminal } from './test-support/run-cli.js'

let t: CliTestServer
let azurite: AzuriteInstance
let env: Record<string, string>
const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex')
const json = <T = unknown>(stdout: string): T => JSON.parse(stdout) as T
const wharf = (args: string[], extra: Record<string, string> = {}) => runWharf(args, { env: { ...env, ...extra } })
/** `wharf datastore register azure-blob <name>` on Azurite's account and endpoint, for `container`, then `extra` options. */
const azureBlobArgs = (name: string, options: { container: string; extra?: string[] }): string[] => [
  'datastore',
  'register',
  'azure-blob',
  name,
  '--account-name',
  azurite.accountName,
  '--container-name',
  options.container,
  '--endpoint',
  azurite.endpoint,
  ...(options.extra ?? []),
]
/** `wharf datastore download <name> -d <target>`, then `options`. */
const downloadArgs = (name: string, target: string, ...options: string[]): string[] => [
  'datastore',
  'download',
  name,
  '-d',
  target,
  ...options,
]

beforeAll(async () => {
  ;[t, azurite] = await Promise.all([startCliTestServer('datastore'), startAzurite()])
  env = t.env
})
afterAll(async () => {
  await t?.stop()
  await azurite?.stop()
})

describe('wharf datastore register, list, show, set-default, unregister', () => {
  it('registers an Azure container with the key from the environment and never prints it', async () => {
    const result = await wharf(
      azureBlobArgs('cli_blob', { container: 'cli-container', extra: ['--create-if-not-exists', '-o', 'json'] }),
      { AZURE_STORAGE_KEY: azurite.accountKey },
    )
    expect(result.code, result.stderr).toBe(0)
    expect(json<Datastore>(result.stdout)).toMatchObject({
      name: 'cli_blob',
      kind: 'azure_blob',
      authType: 'account_key',
      hasSecret: true,
    })
    expect(result.stdout + result.stderr).not.toContain(azurite.accountKey)

    const again = await wharf(azureBlobArgs('cli_blob', { container: 'cli-container' }), {
      AZURE_STORAGE_KEY: azurite.accountKey,
    })
    expect(again.code).toBe(5)
    expect(again.stderr).toBe(
      'wharf: error: datastore "cli_blob" is already registered; add --overwrite to replace it (this is how keys are rotated) [DATASTORE_EXISTS]\n',
    )

    const wrong = await wharf(azureBlobArgs('cli_wrong', { container: 'cli-container' }), {
      AZURE_STORAGE_KEY: Buffer.from(randomBytes(64)).toString('base64'),
    })
    expect(wrong.code).toBe(4)
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1)
    expect(wrong.stderr).toContain('refused the account key')
    expect(wrong.stderr).toContain('check --account-key / AZURE_STORAGE_KEY')
    expect(wrong.stderr).not.toContain('could not reach')
  })

  it('lists and shows datastores as table and JSON without secrets', async () => {
    const table = await wharf(['datastore', 'list', '-o', 'table'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^Name\s+Kind\s+Default\s+Auth\s+Settings\n/)
    expect(table.stdout).toMatch(/workspaceblobstore\s+filesystem\s+yes\s+none/)
    expect(table.stdout).toMatch(/cli_blob\s+azure_blob\s+account_key\s+accountName=devstoreaccount1/)
    const names = await wharf(['datastore', 'list', '-o', 'tsv', '--query', '[].name'])
    expect(names.stdout.trim().split('\n')).toEqual(['cli_blob', 'workspaceblobstore', 'workspacefilestore'])
    const show = await wharf(['datastore', 'show', 'cli_blob', '-o', 'table'])
    expect(show.stdout).toMatch(/Auth\s+account_key \(secret stored encrypted on the server\)/)
    expect(show.stdout + table.stdout).not.toContain(azurite.accountKey)
    const missing = await wharf(['datastore', 'show', 'nope'])
    expect(missing.code).toBe(3)
  })

  it('sets the default and refuses to unregister it or workspaceblobstore, then unregisters', async () => {
    expect((await wharf(['datastore', 'unregister', 'workspaceblobstore'])).code).toBe(4)
    const set = await wharf(['datastore', 'set-default', 'cli_blob', '-o', 'table'])
    expect(set.stdout).toContain('"cli_blob" is now the default datastore')
    expect((await wharf(['datastore', 'unregister', 'cli_blob'])).code).toBe(4)
    expect((await wharf(['datastore', 'set-default', 'workspaceblobstore'])).code).toBe(0)
    const folder = path.join(t.dir, 'scratch')
    const reg = await wharf(['datastore', 'register', 'filesystem', 'cli_tmp', '--path', folder, '--create-if-not-exists'])
    expect(reg.code, reg.stderr).toBe(0)
    const gone = await wharf(['datastore', 'unregister', 'cli_tmp', '-o', 'table'])
    expect(gone.stdout).toContain('its storage was not touched')
    expect((await wharf(['datastore', 'show', 'cli_tmp'])).code).toBe(3)
  })

  it('says what is wrong with a bad name or a missing option', async () => {
    const bad = await wharf(['datastore', 'register', 'filesystem', 'Bad-Name', '--path', '/tmp'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('lowercase letters, digits and "_"')
    const missing = await wharf(['datastore', 'register', 's3', 'x', '--bucket', 'bucket-b'])
    expect(missing.code).toBe(2)
    // The server names the request field; the command names its flag.
    expect(missing.stderr).toContain('(--access-key-id)')
    expect(missing.stderr).not.toContain('accessKeyId')
  })
})

describe('wharf datastore upload, ls, download', () => {
  let src: string
  beforeAll(async () => {
    src = path.join(t.dir, 'src')
    await mkdir(path.join(src, 'sub'), { recursive: true })
    await writeFile(path.join(src, 'a.txt'), 'alpha')
    await writeFile(path.join(src, 'sub', 'b.bin'), randomBytes(200_000))
    const reg = await wharf(azureBlobArgs('cli_data', { container: 'cli-data', extra: ['--create-if-not-exists'] }), {
      AZURE_STORAGE_KEY: azurite.accountKey,
    })
    expect(reg.code, reg.stderr).toBe(0)
  })

  it('uploads a folder, then reports identical files unchanged and different ones skipped by name', async () => {
    const up = await wharf(['datastore', 'upload', 'cli_data', src, '-t', 'train', '-o', 'table'])
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toBe('2 uploaded (195 KiB)\n')
    await writeFile(path.join(src, 'a.txt'), 'alpha, edited')
    const again = await wharf(['datastore', 'upload', 'cli_data', src, '-t', 'train', '-o', 'table'])
    expect(again.stdout).toMatch(/^0 uploaded, 1 unchanged, 1 skipped/)
    expect(again.stdout).toContain('skipped (already there and different; pass --overwrite to replace them): train/a.txt')
    const forced = await wharf(['datastore', 'upload', 'cli_data', src, '-t', 'train', '--overwrite', '-o', 'json'])
    expect(json<{ overwritten: string[] }>(forced.stdout).overwritten).toEqual(['train/a.txt'])
  })

  it('lists files under a prefix', async () => {
    const ls = await wharf(['datastore', 'ls', 'cli_data', 'train/sub', '-o', 'json'])
    expect(ls.code, ls.stderr).toBe(0)
    expect(json<DatastoreFile[]>(ls.stdout).map((f) => [f.path, f.size])).toEqual([['train/sub/b.bin', 200_000]])
  })

  it('downloads a prefix, stripped or not, byte for byte', async () => {
    const target = path.join(t.dir, 'down')
    const down = await wharf(downloadArgs('cli_data', target, '--prefix', 'train/', '--strip-prefix', '-o', 'json'))
    expect(down.code, down.stderr).toBe(0)
    expect(json<{ downloaded: string[] }>(down.stdout).downloaded.sort()).toEqual(['train/a.txt', 'train/sub/b.bin'])
    expect(sha256(await readFile(path.join(target, 'sub', 'b.bin')))).toBe(sha256(await readFile(path.join(src, 'sub', 'b.bin'))))
    const full = path.join(t.dir, 'full')
    const kept = await wharf(downloadArgs('cli_data', full, '--prefix', 'train/sub', '-o', 'table'))
    expect(kept.stdout).toMatch(/^1 downloaded/)
    expect((await readFile(path.join(full, 'train', 'sub', 'b.bin'))).length).toBe(200_000)
  })

  it('reports stored names that cannot be local paths: ls marks them, download fails each by name and writes nothing for them', async () => {
    const reg = await wharf(azureBlobArgs('cli_odd', { container: 'cli-odd', extra: ['--create-if-not-exists'] }), {
      AZURE_STORAGE_KEY: azurite.accountKey,
    })
    expect(reg.code, reg.stderr).toBe(0)
    // Names another tool can write into a container, none of which can be a path below a local folder.
    const odd = ['odd/../escape.txt', 'odd/./dot.txt', 'odd/folder/', 'odd//double.txt', `odd/${'n'.repeat(300)}.txt`]
    for (const blobName of [...odd, 'odd/fine.txt'])
      await putBlobWithRawName(azurite, { containerName: 'cli-odd', blobName, body: blobName })

    const ls = await wharf(['datastore', 'ls', 'cli_odd', '-o', 'json'])
    expect(ls.code, ls.stderr).toBe(0)
    const listed = json<(DatastoreFile & { unusable?: string })[]>(ls.stdout)
    expect(listed.filter((f) => f.unusable === undefined).map((f) => f.path)).toEqual(['odd/fine.txt'])
    const marked = listed.filter((f) => f.unusable !== undefined)
    expect(marked.map((f) => f.path).sort()).toEqual([...odd].sort())
    expect(marked.find((f) => f.path === 'odd/../escape.txt')?.unusable).toMatch(/"\.\." segments are not allowed/)
    expect(marked.find((f) => f.path === 'odd/folder/')?.unusable).toMatch(/ends in "\/"/)
    const table = await wharf(['datastore', 'ls', 'cli_odd', '-o', 'table'])
    expect(table.stdout).toMatch(/odd\/\.\.\/escape\.txt \(not downloadable: "\.\." segments are not allowed/)

    const target = path.join(t.dir, 'odd-down', 'inside')
    const down = await wharf(downloadArgs('cli_odd', target, '-o', 'json'))
    expect(down.code).toBe(2) // UNSAFE_PATH
    expect(down.stderr).toMatch(/5 files could not be downloaded/)
    const result = json<{ downloaded: string[]; failed: { key: string; code: string; message: string }[] }>(down.stdout)
    expect(result.downloaded).toEqual(['odd/fine.txt'])
    expect(result.failed.map((f) => f.key).sort()).toEqual([...odd].sort())
    for (const failure of result.failed) {
      expect(failure.code).toBe('UNSAFE_PATH')
      expect(failure.message).toMatch(
        /^the datastore holds ".+", which was not downloaded: .+\. To download it, rename or replace it in the storage$/,
      )
    }
    const written = await readdir(path.join(t.dir, 'odd-down'), { recursive: true, withFileTypes: true })
    expect(written.filter((e) => e.isFile()).map((e) => path.relative(t.dir, path.join(e.parentPath, e.name)))).toEqual([
      path.join('odd-down', 'inside', 'odd', 'fine.txt'),
    ])
    const printed = await wharf(downloadArgs('cli_odd', target, '-o', 'table'))
    expect(printed.stdout).toContain(
      'failed: odd/../escape.txt: the datastore holds "odd/../escape.txt", which was not downloaded: ".." segments are not allowed',
    )
  })

  it('reports the names in a folder datastore that cannot be paths: ls marks each file, and a folder once for all under it', async () => {
    const folder = path.join(t.dir, 'odd-folder')
    await mkdir(path.join(folder, 'win\\dir', 'deep'), { recursive: true })
    await writeFile(path.join(folder, 'win\\dir', 'deep', 'hidden.txt'), 'hidden')
    await writeFile(path.join(folder, 'back\\slash.txt'), 'back')
    // A name another program wrote in Latin-1: the byte 0xE9 alone is no UTF-8.
    await writeFile(Buffer.concat([Buffer.from(path.join(folder, 'caf')), Buffer.from([0xe9]), Buffer.from('.txt')]), 'latin')
    await writeFile(path.join(folder, '.wharf-tmp-0123456789abcdef01234567'), 'an upload in progress')
    await writeFile(path.join(folder, 'fine.txt'), 'fine')
    const reg = await wharf(['datastore', 'register', 'filesystem', 'cli_odd_folder', '--path', folder])
    expect(reg.code, reg.stderr).toBe(0)

    const ls = await wharf(['datastore', 'ls', 'cli_odd_folder', '-o', 'json'])
    expect(ls.code, ls.stderr).toBe(0)
    const listed = json<(DatastoreFile & { unusable?: string })[]>(ls.stdout)
    expect(listed.filter((f) => f.unusable === undefined).map((f) => f.path)).toEqual(['fine.txt'])
    expect(
      listed.filter((f) => f.unusable !== undefined).map(({ path: name, size, unusable }) => ({ name, size, unusable })),
    ).toEqual([
      { name: 'back\\slash.txt', size: 4, unusable: 'it contains "\\", a folder separator on Windows' },
      {
        name: 'caf\ufffd.txt',
        size: 5,
        unusable: "it is not valid UTF-8; in a shell its path in the datastore folder is $'caf\\xe9.txt'",
      },
      {
        name: 'win\\dir',
        size: 0,
        unusable:
          'a folder whose name cannot be a path (it contains "\\", a folder separator on Windows); the files under it are not listed',
      },
    ])
    const table = await wharf(['datastore', 'ls', 'cli_odd_folder', '-o', 'table'])
    expect(table.stdout).toContain(
      'win\\\\dir (not downloadable: a folder whose name cannot be a path (it contains "\\", a folder separator on Windows); the files under it are not listed)',
    )
    expect(table.stdout).toContain(
      "caf\ufffd.txt (not downloadable: it is not valid UTF-8; in a shell its path in the datastore folder is $'caf\\xe9.txt')",
    )

    const down = await wharf(downloadArgs('cli_odd_folder', path.join(t.dir, 'odd-folder-down'), '-o', 'json'))
    expect(down.code).toBe(2) // UNSAFE_PATH
    const result = json<{ downloaded: string[]; failed: { key: string }[] }>(down.stdout)
    expect(result.downloaded).toEqual(['fine.txt'])
    expect(result.failed.map((f) => f.key)).toEqual(['back\\slash.txt', 'caf\ufffd.txt', 'win\\dir'])
  })

  it('refuses a file that disagrees with its stored MD5, unless told --no-verify', async () => {
    await setStoredMd5(azurite, { containerName: 'cli-data', blobName: 'train/sub/b.bin', md5: Buffer.alloc(16, 3) })
    const target = path.join(t.dir, 'verify')
    const checked = await wharf(downloadArgs('cli_data', target, '--prefix', 'train/sub', '-o', 'json'))
    expect(checked.code).not.toBe(0)
    expect(checked.stderr).toMatch(/1 file could not be downloaded/)
    const failed = json<{ failed: { key: string; message: string }[] }>(checked.stdout).failed
    expect(failed.map((f) => f.key)).toEqual(['train/sub/b.bin'])
    expect(failed[0]?.message).toMatch(/does not match its stored MD5/)
    const trusted = await wharf(downloadArgs('cli_data', target, '--prefix', 'train/sub', '--no-verify', '-o', 'json'))
    expect(trusted.code, trusted.stderr).toBe(0)
    expect(json<{ downloaded: string[] }>(trusted.stdout).downloaded).toEqual(['train/sub/b.bin'])
    expect(sha256(await readFile(path.join(target, 'train', 'sub', 'b.bin')))).toBe(
      sha256(await readFile(path.join(src, 'sub', 'b.bin'))),
    )
  })

  it('exits non-zero naming the files it could not upload, after uploading the rest', async () => {
    // A folder given among files cannot be uploaded as one; the file beside it still goes.
    const result = await wharf([
      'datastore',
      'upload',
      'cli_data',
      path.join(src, 'a.txt'),
      path.join(src, 'sub'),
      '--relative-root',
      src,
      '-t',
      'mixed',
      '-o',
      'table',
    ])
    expect(result.stdout).toMatch(/^1 uploaded, 1 failed/)
    expect(result.stdout).toContain('failed: mixed/sub')
    expect(result.stderr).toContain('1 file could not be uploaded')
    // Every failure was the same mistake, so the exit code is that mistake's (INVALID_ARGUMENT: 2).
    expect(result.stderr).toContain('[INVALID_ARGUMENT]')
    expect(result.code).toBe(2)
  })

  it('refuses a path that does not exist before uploading anything', async () => {
    const missing = path.join(src, 'not-there.txt')
    const result = await wharf(['datastore', 'upload', 'cli_data', path.join(src, 'a.txt'), missing, '-t', 'typo', '-o', 'json'])
    expect(result.code).toBe(3)
    expect(result.stderr.trim()).toBe(
      `wharf: error: nothing was uploaded: "${missing}" does not exist; check the path [FILE_NOT_FOUND]`,
    )
    const listed = await wharf(['datastore', 'ls', 'cli_data', 'typo', '-o', 'json'])
    expect(json<DatastoreFile[]>(listed.stdout)).toEqual([])
  })

  it('draws a progress bar on a terminal', async () => {
    const result = await runWharfOnTerminal(['datastore', 'upload', 'cli_data', src, '-t', 'tty', '--overwrite'], { env })
    if (result === undefined) {
      console.log('skipped: util-linux "script" is not installed, so no terminal can be faked for the progress bar test')
      return
    }
    expect(result.output).toMatch(/Uploading to cli_data/)
    expect(result.output).toMatch(/\| 2\/2 files \| 195 KiB of 195 KiB \| [\d.]+ (B|KiB|MiB|GiB)\/s \|/)
    expect(result.output).not.toMatch(/\d{4,} MiB|MB/)
  })
})
