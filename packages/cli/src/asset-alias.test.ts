import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WharfClient } from '@wharf/client'
import type { AssetAlias, AssetVersion } from '@wharf/contract'
import { startCliTestServer, type CliTestServer } from './test-support/cli-server.js'
import { parseAssetRef, parseVersionNumber } from './command-options.js'
import { runWharf } from './test-support/run-cli.js'

let t: CliTestServer
let dir: string
let env: Record<string, string>
let client: WharfClient
/** The URL of a port nothing listens on: a command that reached for the server would fail SERVER_UNREACHABLE. */
let deadUrl: string
const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex')
const weights = (version: number): string => `weights of version ${version}\n`

async function closedPortUrl(): Promise<string> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  await new Promise<void>((resolve, reject) => probe.close((error) => (error ? reject(error) : resolve())))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

beforeAll(async () => {
  t = await startCliTestServer('asset-alias')
  ;({ dir, env, client } = t)
  // Three versions of "mnist-model", each with a weights file that says which version it is.
  for (const version of [1, 2, 3]) {
    const run = await client.createRun({ experiment: 'cli-asset-aliases', status: 'Running' })
    await client.uploadArtifact(run.id, { path: 'outputs/model/weights.bin', body: weights(version) })
    await client.setRunStatus(run.id, 'Completed')
    await client.promoteAsset({ name: 'mnist-model', runId: run.id, artifactPath: 'outputs/model' })
  }
  deadUrl = await closedPortUrl()
})
afterAll(async () => {
  await t?.stop()
})

const wharf = (args: string[], extraEnv: Record<string, string> = {}) => runWharf(args, { env: { ...env, ...extraEnv } })
const json = <T = unknown>(stdout: string): T => JSON.parse(stdout) as T
const text = async (args: string[]): Promise<string> => {
  const result = await wharf([...args, '-o', 'table'])
  expect(result.code, result.stderr).toBe(0)
  return result.stdout
}

describe('wharf asset alias set, list and delete', () => {
  it('makes an alias, moves it (saying from which version), lists and deletes it', async () => {
    const made = await wharf(['asset', 'alias', 'set', 'mnist-model', 'champion', '1'])
    expect(made.code, made.stderr).toBe(0)
    expect(json(made.stdout)).toMatchObject({ name: 'mnist-model', alias: 'champion', version: 1, previousVersion: null })
    expect(await client.getAssetVersion('mnist-model', 'champion')).toMatchObject({ version: 1 })

    expect(await text(['asset', 'alias', 'set', 'mnist-model', 'champion', '2'])).toBe(
      'alias champion of mnist-model now points at version 2 (moved from version 1)\n',
    )
    expect(await text(['asset', 'alias', 'set', 'mnist-model', 'champion', '2'])).toBe(
      'alias champion of mnist-model now points at version 2 (it already did)\n',
    )
    expect(await text(['asset', 'alias', 'set', 'mnist-model', 'staging', '3'])).toBe(
      'alias staging of mnist-model now points at version 3\n',
    )

    const list = await wharf(['asset', 'alias', 'list', 'mnist-model'])
    expect(list.code, list.stderr).toBe(0)
    const aliases = json<AssetAlias[]>(list.stdout)
    expect(aliases.map((a) => [a.alias, a.version])).toEqual([
      ['champion', 2],
      ['staging', 3],
    ])
    expect(aliases).toEqual(await client.listAssetAliases('mnist-model'))
    const table = await text(['asset', 'alias', 'list', 'mnist-model'])
    expect(table).toMatch(/^Alias\s+Version\s+Updated \(UTC\)\n/)
    expect(table).toMatch(/\nchampion\s+2\s+\d{4}-\d\d-\d\d/)
    expect(table).toMatch(/\nstaging\s+3\s+/)
    const tsv = await wharf(['asset', 'alias', 'list', 'mnist-model', '-o', 'tsv', '--query', '[].[alias, version]'])
    expect(tsv.stdout).toBe('champion\t2\nstaging\t3\n')

    expect(await text(['asset', 'alias', 'delete', 'mnist-model', 'staging'])).toBe('deleted alias staging of mnist-model\n')
    const again = await wharf(['asset', 'alias', 'delete', 'mnist-model', 'staging'])
    expect(again.code, again.stderr).toBe(0)
    expect(json(again.stdout)).toEqual({ name: 'mnist-model', alias: 'staging', deleted: false })
    expect(await text(['asset', 'alias', 'delete', 'mnist-model', 'staging'])).toBe(
      'mnist-model has no alias staging; nothing was deleted\n',
    )
    expect((await client.listAssetAliases('mnist-model')).map((a) => a.alias)).toEqual(['champion'])
  }, 120_000)

  it('says how to make one when an asset has no aliases', async () => {
    const run = await client.createRun({ experiment: 'cli-asset-aliases', status: 'Running' })
    await client.uploadArtifact(run.id, { path: 'vocab.txt', body: 'a\nb\n' })
    await client.setRunStatus(run.id, 'Completed')
    await client.promoteAsset({ name: 'tokenizer', runId: run.id, artifactPath: 'vocab.txt' })
    expect(json((await wharf(['asset', 'alias', 'list', 'tokenizer'])).stdout)).toEqual([])
    expect(await text(['asset', 'alias', 'list', 'tokenizer'])).toBe(
      'tokenizer has no aliases; wharf asset alias set tokenizer <alias> <version> makes one\n',
    )
    expect(await text(['asset', 'show', 'tokenizer'])).not.toContain('Aliases')
  })

  it('an unknown asset or version is exit code 3', async () => {
    const version = await wharf(['asset', 'alias', 'set', 'mnist-model', 'champion', '9'])
    expect(version.code).toBe(3)
    expect(version.stderr).toMatch(/version 9 of asset "mnist-model" not found.*\[ASSET_NOT_FOUND\]\n$/)
    for (const args of [
      ['set', 'no-such-asset', 'champion', '1'],
      ['list', 'no-such-asset'],
      ['delete', 'no-such-asset', 'champion'],
    ]) {
      const result = await wharf(['asset', 'alias', ...args])
      expect(result.code, args.join(' ')).toBe(3)
      expect(result.stderr).toContain('[ASSET_NOT_FOUND]')
    }
  })

  it('a bad alias name or version is exit code 2 before the server is called', async () => {
    const offline = { WHARF_TRACKING_URI: deadUrl }
    // The same command with good arguments does reach for the server, so the exit code 2 below is the local check.
    const reached = await wharf(['asset', 'alias', 'set', 'mnist-model', 'champion', '1'], offline)
    expect(reached.code).toBe(6)
    expect(reached.stderr).toContain('[SERVER_UNREACHABLE]')
    for (const args of [
      ['set', 'mnist-model', 'latest', '1'],
      ['set', 'mnist-model', '7', '1'],
      ['set', 'mnist-model', 'v2', '1'],
      ['set', 'mnist-model', 'a b', '1'],
      ['delete', 'mnist-model', 'latest'],
      ['delete', 'mnist-model', 'v2'],
    ]) {
      const result = await wharf(['asset', 'alias', ...args], offline)
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toMatch(
        /^wharf: error: alias ".*" is not valid: .*not "latest", a number or v<number>.*\[INVALID_ARGUMENT\]\n$/,
      )
    }
    const version = await wharf(['asset', 'alias', 'set', 'mnist-model', 'champion', 'v2'], offline)
    expect(version.code).toBe(2)
    expect(version.stderr).toContain('version "v2" is not a version number; use 1, 2, …')
    for (const ref of ['mnist-model@latest', 'mnist-model@v2']) {
      const result = await wharf(['asset', 'show', ref], offline)
      expect(result.code, ref).toBe(2)
      expect(result.stderr).toContain('write <name>, <name>:<version> (a version is 1, 2, …, or latest) or <name>@<alias>')
    }
  }, 120_000)
})

describe('parseAssetRef and parseVersionNumber', () => {
  it('read the three forms of an asset reference', () => {
    expect(parseAssetRef('mnist-model')).toEqual({ name: 'mnist-model', version: 'latest' })
    expect(parseAssetRef('mnist-model:latest')).toEqual({ name: 'mnist-model', version: 'latest' })
    expect(parseAssetRef('mnist-model:3')).toEqual({ name: 'mnist-model', version: 3 })
    expect(parseAssetRef('mnist-model@champion')).toEqual({ name: 'mnist-model', version: 'champion' })
    expect(parseAssetRef('m.v1@best-2026_q4')).toEqual({ name: 'm.v1', version: 'best-2026_q4' })
    expect(parseAssetRef('m@latest-good')).toEqual({ name: 'm', version: 'latest-good' })
  })

  it('refuse anything else with INVALID_ARGUMENT naming the three forms', () => {
    const bad = [
      'm@latest',
      'm@LATEST',
      'm@7',
      'm@v2',
      'm@a b',
      'm@',
      '@champion',
      'm@a:1',
      'm:1@a',
      'm@a@b',
      'm:0',
      'm:',
      ':1',
      'm:x y',
    ]
    for (const ref of bad) {
      expect(() => parseAssetRef(ref), ref).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining('<name>, <name>:<version> (a version is 1, 2, …, or latest) or <name>@<alias>'),
        }),
      )
    }
    expect(() => parseAssetRef('m@v2')).toThrow(/alias "v2" is not valid \(use letters/)
    expect(() => parseAssetRef('mnist-model:champion')).toThrow(/an alias goes after @: mnist-model@champion/)
  })

  it('parseVersionNumber takes whole numbers from 1 only', () => {
    expect([parseVersionNumber('1'), parseVersionNumber('03'), parseVersionNumber('123456789012345')]).toEqual([
      1, 3, 123456789012345,
    ])
    for (const raw of ['0', '', '-1', '1.5', '1e3', ' 3', '0x10', 'v2', '1234567890123456']) {
      expect(parseVersionNumber(raw), raw).toBeUndefined()
    }
  })
})

describe('wharf asset show and download by name@alias', () => {
  beforeAll(async () => {
    await client.setAssetAlias({ name: 'mnist-model', alias: 'prod', version: 1 })
    await client.setAssetAlias({ name: 'mnist-model', alias: 'best-2026_q4', version: 1 })
    await client.setAssetAlias({ name: 'mnist-model', alias: 'candidate', version: 3 })
  })

  it('shows the version an alias points at, and after a move the new one', async () => {
    const shown = await wharf(['asset', 'show', 'mnist-model@prod'])
    expect(shown.code, shown.stderr).toBe(0)
    // The JSON is the server's AssetVersion, nothing added.
    expect(json<AssetVersion>(shown.stdout)).toEqual(await client.getAssetVersion('mnist-model', 1))
    const table = await text(['asset', 'show', 'mnist-model@prod'])
    expect(table).toMatch(/Asset\s+mnist-model:1\n/)
    expect(table).toMatch(/Aliases\s+best-2026_q4, prod\n/)
    expect(table).toContain(sha256(weights(1)))

    const moved = await wharf(['asset', 'alias', 'set', 'mnist-model', 'prod', '2'])
    expect(moved.code, moved.stderr).toBe(0)
    expect(json<AssetVersion>((await wharf(['asset', 'show', 'mnist-model@prod'])).stdout)).toMatchObject({ version: 2 })
    expect(await text(['asset', 'show', 'mnist-model@prod'])).toMatch(/Asset\s+mnist-model:2\n/)
    // Each version lists the aliases that point at it, and only those.
    expect(await text(['asset', 'show', 'mnist-model:1'])).toMatch(/Aliases\s+best-2026_q4\n/)
    expect(await text(['asset', 'show', 'mnist-model:latest'])).toMatch(/Aliases\s+candidate\n/)
    const query = await wharf(['asset', 'show', 'mnist-model@candidate', '-o', 'tsv', '--query', 'version'])
    expect(query.stdout).toBe('3\n')
  }, 120_000)

  it('downloads the version an alias points at', async () => {
    await client.setAssetAlias({ name: 'mnist-model', alias: 'shipped', version: 3 })
    const target = path.join(dir, 'shipped')
    const result = await wharf(['asset', 'download', 'mnist-model@shipped', '-d', target])
    expect(result.code, result.stderr).toBe(0)
    expect(json(result.stdout)).toMatchObject({ name: 'mnist-model', version: 3, directory: target })
    const [file] = (await client.getAssetVersion('mnist-model', 3)).files
    expect(await readFile(path.join(target, file!.path), 'utf8')).toBe(weights(3))
  })

  it('a missing alias is exit code 3 with ASSET_ALIAS_NOT_FOUND saying how to list the aliases', async () => {
    for (const args of [
      ['show', 'mnist-model@no-such-alias'],
      ['download', 'mnist-model@no-such-alias', '-d', path.join(dir, 'never')],
    ]) {
      const result = await wharf(['asset', ...args])
      expect(result.code, args.join(' ')).toBe(3)
      expect(result.stderr).toBe(
        'wharf: error: asset "mnist-model" has no alias "no-such-alias" in workspace "default"; ' +
          'wharf asset alias list mnist-model shows its aliases [ASSET_ALIAS_NOT_FOUND]\n',
      )
    }
    const unknownAsset = await wharf(['asset', 'show', 'no-such-asset@champion'])
    expect(unknownAsset.code).toBe(3)
    expect(unknownAsset.stderr).toContain('[ASSET_NOT_FOUND]')
  })
})
