// A script that only logs metrics never loads @wharf/runner: the SDK imports it when a run is submitted.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startSdkTestServer } from '../test-support/sdk-server.js'

const SCRIPTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.test-scripts')
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

let server: Awaited<ReturnType<typeof startSdkTestServer>>
beforeAll(async () => {
  server = await startSdkTestServer()
})
afterAll(async () => {
  await server?.stop()
})

it('logging a metric loads the SDK without @wharf/runner', async () => {
  await mkdir(SCRIPTS_DIR, { recursive: true })
  const id = `${process.pid}-${randomUUID().slice(0, 8)}`
  const script = path.join(SCRIPTS_DIR, `log-only-${id}.ts`)
  const hooks = path.join(SCRIPTS_DIR, `record-modules-${id}.mjs`)
  const register = path.join(SCRIPTS_DIR, `register-${id}.mjs`)
  const loaded = path.join(server.dir, 'loaded.txt')
  await writeFile(
    hooks,
    `import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(${JSON.stringify(loaded)}, result.url + '\\n')
  return result
}
`,
  )
  await writeFile(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`)
  await writeFile(
    script,
    `import { Run } from '@wharf/sdk'
const run = await Run.getContext()
await run.log('loss', 0.5).wait()
console.log('logged to', run.id)
`,
  )
  try {
    const child = spawn(
      process.execPath,
      ['--import', pathToFileURL(register).href, '--import', TSX_LOADER, '--conditions=@wharf/source', script],
      { cwd: server.dir, env: { ...process.env, WHARF_TRACKING_URI: server.url, WHARF_HOME: path.join(server.dir, 'home') } },
    )
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    expect(code, output).toBe(0)
    expect(output).toContain('logged to')
    const modules = (await readFile(loaded, 'utf8')).split('\n')
    // The recording works: the SDK's own modules are there.
    expect(modules.some((url) => url.includes('/packages/sdk/src/runs/run.ts'))).toBe(true)
    expect(modules.filter((url) => url.includes('/packages/runner/'))).toEqual([])
  } finally {
    await Promise.all([script, hooks, register].map((file) => rm(file, { force: true })))
  }
})
