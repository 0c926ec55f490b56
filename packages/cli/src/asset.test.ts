import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WharfClient } from '@wharf/client'
import type { AssetSummary, AssetVersion, Run } from '@wharf/contract'
import { startCliTestServer, type CliTestServer } from './test-support/cli-server.js'
import { runWharf } from './test-support/run-cli.js'

let t: CliTestServer
let dir: string
let env: Record<string, string>
let client: WharfClient
let first: Run
let second: Run
const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex')
const MODEL_V1 = new Uint8Array(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256))
const MODEL_V2 = new Uint8Array(Array.from({ length: 1000 }, (_, i) => (i * 13) % 256))

async function seedRun(model: Uint8Array): Promise<Run> {
  const run = await client.createRun({ experiment: 'cli-assets', status: 'Running' })
  await client.uploadArtifact(run.id, { path: 'outputs/model/weights.bin', body: model })
  await client.uploadArtifact(run.id, {
    path: 'outputs/model/meta/config.json',
    body: '{"layers": 3}\n',
    contentType: 'application/json',
  })
  await client.uploadArtifact(run.id, { path: 'outputs/other.txt', body: 'not part of the model\n' })
  return client.setRunStatus(run.id, 'Completed')
}

beforeAll(async () => {
  t = await startCliTestServer('asset')
  ;({ dir, env, client } = t)
  first = await seedRun(MODEL_V1)
  second = await seedRun(MODEL_V2)
  // Version 1 and 2 through the CLI (the -ap short flag of az ml history promote), one through the client.
  for (const [run, description] of [
    [first, 'first'],
    [second, 'second'],
  ] as const) {
    const result = await runWharf(
      ['history', 'promote', '-r', run.id, '-ap', 'outputs/model', '-n', 'mnist-model', '--description', description],
      { env },
    )
    if (result.code !== 0) throw new Error(`promote failed: ${result.stderr}`)
  }
  await client.promoteAsset({ name: 'tokenizer', runId: first.id, artifactPath: 'outputs/other.txt' })
})
afterAll(async () => {
  await t?.stop()
})

const wharf = (args: string[]) => runWharf(args, { env })
const json = <T = unknown>(stdout: string): T => JSON.parse(stdout) as T

describe('wharf asset list', () => {
  it('lists assets with their latest version in each format', async () => {
    const list = await wharf(['asset', 'list'])
    expect(list.code, list.stderr).toBe(0)
    const byName = Object.fromEntries(json<AssetSummary[]>(list.stdout).map((a) => [a.name, a]))
    expect(byName['mnist-model']).toMatchObject({ latestVersion: 2, versionCount: 2, description: 'second' })
    expect(byName.tokenizer).toMatchObject({ latestVersion: 1 })
    const table = await wharf(['asset', 'list', '-o', 'table'])
    expect(table.stdout).toMatch(/^Name\s+Latest\s+Versions\s+Updated \(UTC\)\s+Description\n/)
    expect(table.stdout).toMatch(/mnist-model\s+2\s+2\s+/)
    const tsv = await wharf(['asset', 'list', '-o', 'tsv', '--query', '[].[name, latestVersion]'])
    expect(tsv.stdout.split('\n')).toContain('mnist-model\t2')
  })
})

describe('wharf asset show', () => {
  it('shows the latest version, or the one asked for, with every file, size and sha256', async () => {
    const latest = json<AssetVersion>((await wharf(['asset', 'show', 'mnist-model'])).stdout)
    expect(latest).toMatchObject({
      name: 'mnist-model',
      version: 2,
      sourceRunId: second.id,
      artifactPath: 'outputs/model',
      fileCount: 2,
    })
    const one = await wharf(['asset', 'show', 'mnist-model:1'])
    expect(one.code, one.stderr).toBe(0)
    const v1 = json<AssetVersion>(one.stdout)
    expect(v1).toMatchObject({ version: 1, sourceRunId: first.id, description: 'first', size: MODEL_V1.length + 14 })
    const weights = v1.files.find((f) => f.path.endsWith('weights.bin'))
    expect(weights).toMatchObject({ size: MODEL_V1.length, sha256: sha256(MODEL_V1) })
    expect(v1.files.some((f) => f.path.endsWith('other.txt'))).toBe(false)
    const table = await wharf(['asset', 'show', 'mnist-model:1', '-o', 'table'])
    expect(table.stdout).toMatch(/Asset\s+mnist-model:1/)
    expect(table.stdout).toContain(`run ${first.id}, outputs/model`)
    expect(table.stdout).toContain(sha256(MODEL_V1))
    const shas = await wharf(['asset', 'show', 'mnist-model:latest', '--query', 'files[].sha256', '-o', 'tsv'])
    expect(shas.stdout.trimEnd().split('\n')).toContain(sha256(MODEL_V2))
  })

  it('an unknown asset or version is exit code 3; a malformed reference exit code 2', async () => {
    const unknown = await wharf(['asset', 'show', 'no-such-asset'])
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toMatch(/^wharf: error: .*no-such-asset.*\[ASSET_NOT_FOUND\]\n$/)
    expect((await wharf(['asset', 'show', 'mnist-model:9'])).code).toBe(3)
    const bad = await wharf(['asset', 'show', 'mnist-model:0'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('<name>:<version>')
  })
})

describe('wharf asset download', () => {
  it("downloads a version's files, each matching its recorded sha256", async () => {
    const target = path.join(dir, 'model-v1')
    const result = await wharf(['asset', 'download', 'mnist-model:1', '-d', target])
    expect(result.code, result.stderr).toBe(0)
    const out = json(result.stdout)
    expect(out).toMatchObject({ name: 'mnist-model', version: 1, directory: target })
    const v1 = await client.getAssetVersion('mnist-model', 1)
    for (const file of v1.files) {
      expect(sha256(await readFile(path.join(target, file.path))), file.path).toBe(file.sha256)
    }
    const weights = v1.files.find((f) => f.path.endsWith('weights.bin'))!
    expect(new Uint8Array(await readFile(path.join(target, weights.path)))).toEqual(MODEL_V1)
  })

  it('downloads the latest version by default, and will not replace a different file without --overwrite', async () => {
    const target = path.join(dir, 'model-latest')
    const first = await wharf(['asset', 'download', 'mnist-model', '-d', target, '-o', 'table'])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain('asset mnist-model:2 is in')
    const v2 = await client.getAssetVersion('mnist-model', 2)
    const weights = path.join(target, v2.files.find((f) => f.path.endsWith('weights.bin'))!.path)
    expect(sha256(await readFile(weights))).toBe(sha256(MODEL_V2))
    await writeFile(weights, 'tampered')
    const refused = await wharf(['asset', 'download', 'mnist-model', '-d', target])
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain('--overwrite')
    const forced = await wharf(['asset', 'download', 'mnist-model', '-d', target, '--overwrite'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(sha256(await readFile(weights))).toBe(sha256(MODEL_V2))
  })

  it('an unknown asset is exit code 3 and -d is required', async () => {
    expect((await wharf(['asset', 'download', 'no-such-asset', '-d', path.join(dir, 'x')])).code).toBe(3)
    const missing = await wharf(['asset', 'download', 'mnist-model'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('-d, --dir')
  })
})

describe('wharf asset update', () => {
  it("sets and removes tags and the description of one version, leaving its files and the other versions' alone", async () => {
    const before = await client.getAssetVersion('mnist-model', 1)
    const set = await wharf([
      'asset',
      'update',
      'mnist-model:1',
      '--description',
      'validated',
      '--tag',
      'stage=dev',
      '--tag',
      'owner=ana',
    ])
    expect(set.code, set.stderr).toBe(0)
    const v1 = json<AssetVersion>(set.stdout)
    expect(v1).toMatchObject({ version: 1, description: 'validated', tags: { stage: 'dev', owner: 'ana' } })
    expect(v1.files).toEqual(before.files)
    const changed = await wharf([
      'asset',
      'update',
      'mnist-model:1',
      '--tag',
      'stage=approved',
      '--remove-tag',
      'owner',
      '-o',
      'table',
    ])
    expect(changed.code, changed.stderr).toBe(0)
    // The table is the one wharf asset show prints.
    expect(changed.stdout).toMatch(/Asset\s+mnist-model:1/)
    expect(changed.stdout).toMatch(/Description\s+validated/)
    expect(changed.stdout).toMatch(/Tags\s+stage=approved\n/)
    expect(changed.stdout).toContain(sha256(MODEL_V1))
    expect(await client.getAssetVersion('mnist-model', 1)).toMatchObject({
      description: 'validated',
      tags: { stage: 'approved' },
    })
    expect(await client.getAssetVersion('mnist-model', 2)).toMatchObject({ description: 'second', tags: {} })
  })

  it('edits the latest version by default, and the version an alias points at', async () => {
    const latest = await wharf(['asset', 'update', 'tokenizer', '--description', 'byte-level'])
    expect(latest.code, latest.stderr).toBe(0)
    expect(json(latest.stdout)).toMatchObject({ name: 'tokenizer', version: 1, description: 'byte-level' })
    await client.setAssetAlias({ name: 'mnist-model', alias: 'champion', version: 2 })
    const aliased = await wharf(['asset', 'update', 'mnist-model@champion', '--tag', 'deployed', '-o', 'table'])
    expect(aliased.code, aliased.stderr).toBe(0)
    expect(aliased.stdout).toMatch(/Asset\s+mnist-model:2/)
    expect(aliased.stdout).toMatch(/Aliases\s+champion/)
    expect((await client.getAssetVersion('mnist-model', 2)).tags).toEqual({ deployed: '' })
  })

  it('refuses a call with nothing to change or a malformed --tag before reaching the server (exit code 2)', async () => {
    // A URL nothing listens on: reaching for the server would be SERVER_UNREACHABLE, not INVALID_ARGUMENT.
    const offline = { ...env, WHARF_TRACKING_URI: 'http://127.0.0.1:9' }
    const nothing = await runWharf(['asset', 'update', 'mnist-model:1'], { env: offline })
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toMatch(/nothing to update.*--description.*--tag.*--remove-tag.*\[INVALID_ARGUMENT\]/)
    const badTag = await runWharf(['asset', 'update', 'mnist-model:1', '--tag', '=x'], { env: offline })
    expect(badTag.code).toBe(2)
    expect(badTag.stderr).toContain('write --tag key=value')
    expect((await client.getAssetVersion('mnist-model', 1)).tags).toEqual({ stage: 'approved' })
  })

  it('an unknown asset or version is exit code 3; more tags than the server allows exit code 2', async () => {
    const version = await wharf(['asset', 'update', 'mnist-model:9', '--description', 'x'])
    expect(version.code).toBe(3)
    expect(version.stderr).toContain('[ASSET_NOT_FOUND]')
    expect((await wharf(['asset', 'update', 'no-such-asset', '--description', 'x'])).code).toBe(3)
    expect((await wharf(['asset', 'update', 'mnist-model@nobody', '--description', 'x'])).code).toBe(3)
    const tags = Array.from({ length: 101 }, (_, i) => ['--tag', `k${i}=v`]).flat()
    const tooMany = await wharf(['asset', 'update', 'tokenizer', ...tags])
    expect(tooMany.code).toBe(2)
    expect(tooMany.stderr).toMatch(/tagsPerRun.*\[LIMIT_EXCEEDED\]/)
    expect((await client.getAssetVersion('tokenizer', 1)).tags).toEqual({})
  })
})
