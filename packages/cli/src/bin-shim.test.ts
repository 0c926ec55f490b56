import { spawnSync } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-cli-shim-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the wharf bin', () => {
  it('is a file in the sources, so npm can link it at install time, before any build', async () => {
    const manifest = JSON.parse(await readFile(path.join(PACKAGE, 'package.json'), 'utf8')) as {
      bin: Record<string, string>
      files: string[]
    }
    const target = manifest.bin.wharf ?? ''
    expect(target).not.toMatch(/^(\.\/)?dist\//)
    expect((await readFile(path.join(PACKAGE, target), 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true)
    expect(manifest.files).toContain(path.dirname(path.normalize(target)))
  })

  it('says to build when dist/ is missing, and runs dist/bin.js when it is there', async () => {
    const manifest = JSON.parse(await readFile(path.join(PACKAGE, 'package.json'), 'utf8')) as { bin: Record<string, string> }
    const shim = path.join(dir, path.normalize(manifest.bin.wharf ?? ''))
    await mkdir(path.dirname(shim), { recursive: true })
    await copyFile(path.join(PACKAGE, manifest.bin.wharf ?? ''), shim)
    const unbuilt = spawnSync(process.execPath, [shim, '--version'], { encoding: 'utf8' })
    expect(unbuilt.status).toBe(1)
    expect(unbuilt.stderr).toBe(
      'wharf: error: the wharf command is not built yet; run "npm run build" in the Wharf clone, then try again\n',
    )
    await mkdir(path.join(dir, 'dist'), { recursive: true })
    await writeFile(path.join(dir, 'dist', 'bin.js'), "process.stdout.write('built ' + process.argv.slice(2).join(' '))\n")
    const built = spawnSync(process.execPath, [shim, '--version'], { encoding: 'utf8' })
    expect({ status: built.status, stdout: built.stdout }).toEqual({ status: 0, stdout: 'built --version' })
  })
})
