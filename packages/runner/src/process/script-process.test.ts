import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startScript } from './script-process.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Whether `pid` runs (a zombie left for init to reap does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('startScript', () => {
  it('hands over stdout and stderr in the order they were written', async () => {
    const file = path.join(dir, 'out.mjs')
    await writeFile(
      file,
      `import { writeSync } from 'node:fs'
for (let i = 0; i < 5; i++) { writeSync(1, 'out ' + i + '\\n'); await new Promise((r) => setTimeout(r, 20)); writeSync(2, 'err ' + i + '\\n'); await new Promise((r) => setTimeout(r, 20)) }
process.exitCode = 3`,
    )
    const seen: string[] = []
    const script = await startScript({
      argv: [process.execPath, file],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      onOutput: (chunk, stream) => seen.push(`${stream}:${chunk.toString().trim()}`),
    })
    expect(await script.exited).toEqual({ code: 3, signal: null })
    expect(seen).toEqual(Array.from({ length: 5 }, (_, i) => [`stdout:out ${i}`, `stderr:err ${i}`]).flat())
  })

  it('stops the whole process group: SIGTERM, then SIGKILL after the grace for what ignores it', async () => {
    const file = path.join(dir, 'stubborn.mjs')
    await writeFile(
      file,
      `import { spawn } from 'node:child_process'
process.on('SIGTERM', () => console.log('ignoring SIGTERM'))
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' })
console.log('child ' + child.pid)
setInterval(() => {}, 1000)`,
    )
    let output = ''
    const script = await startScript({
      argv: [process.execPath, file],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      onOutput: (chunk) => (output += chunk.toString()),
    })
    while (!/child \d+/.test(output)) await new Promise((resolve) => setTimeout(resolve, 20))
    const childPid = Number(/child (\d+)/.exec(output)![1])
    expect(alive(childPid)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 300)) // let the grandchild set its handler
    const started = Date.now()
    const exit = await script.stop({ graceMs: 700 })
    const took = Date.now() - started
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' })
    expect(output).toContain('ignoring SIGTERM')
    expect(took).toBeGreaterThanOrEqual(650)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(alive(childPid)).toBe(false)
  })

  it('kills a background process the script left, its output sent elsewhere, once the script has exited', async () => {
    const pidFile = path.join(dir, 'bg.pid')
    const script = await startScript({
      argv: ['sh', '-c', `sleep 300 >/dev/null 2>&1 </dev/null & echo $! > ${pidFile}; echo started`],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      onOutput: () => undefined,
    })
    const started = Date.now()
    expect(await script.exited).toEqual({ code: 0, signal: null })
    expect(Date.now() - started).toBeLessThan(1500) // the pipes closed at once: no wait for the drain
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    expect(pid).toBeGreaterThan(0)
    const deadline = Date.now() + 2000
    while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(alive(pid)).toBe(false)
  })

  it('ends a script that honours SIGTERM without waiting for the grace', async () => {
    const script = await startScript({
      argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
      cwd: dir,
      env: {},
      onOutput: () => undefined,
    })
    const started = Date.now()
    expect(await script.stop({ graceMs: 10_000 })).toEqual({ code: null, signal: 'SIGTERM' })
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('names a program that cannot be started', async () => {
    await expect(
      startScript({ argv: [path.join(dir, 'missing')], cwd: dir, env: {}, onOutput: () => undefined }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('it was not found') as string })
  })
})
