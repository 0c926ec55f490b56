import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WharfError } from '@wharf/contract'
import { LiveLog, type AppendChunk } from './live-log.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-live-log-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A log store that behaves like the server's: an append must start at its size; a repeat is ignored. */
function store(options: { failFirst?: number } = {}) {
  let bytes = Buffer.alloc(0)
  const offsets: number[] = []
  const sizes: number[] = []
  let failures = options.failFirst ?? 0
  const append: AppendChunk = async ({ offset, bytes: chunk }) => {
    await new Promise((resolve) => setTimeout(resolve, 1))
    if (failures-- > 0) throw new WharfError('SERVER_UNREACHABLE', 'down')
    offsets.push(offset)
    sizes.push(chunk.length)
    if (offset + chunk.length <= bytes.length) return
    if (offset !== bytes.length) throw new WharfError('WRITE_CONFLICT', `gap at ${offset}, size ${bytes.length}`)
    bytes = Buffer.concat([bytes, chunk])
  }
  return { append, offsets, sizes, bytes: () => bytes, text: () => bytes.toString('utf8') }
}

describe('LiveLog', () => {
  it('sends everything in order at increasing offsets, split at the append limit, and keeps a local copy', async () => {
    const server = store()
    const log = new LiveLog({
      append: server.append,
      localFile: path.join(dir, 'std_log.txt'),
      maxAppendBytes: 10,
      intervalMs: 5,
    })
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ünïcødé ✓\n`)
    for (const line of lines) log.write(line)
    await log.close()
    expect(server.text()).toBe(lines.join(''))
    const total = Buffer.byteLength(lines.join(''))
    expect(server.sizes.length).toBeGreaterThanOrEqual(Math.ceil(total / 10))
    for (const size of server.sizes) {
      expect(size).toBeGreaterThan(0)
      expect(size).toBeLessThanOrEqual(10)
    }
    expect(server.offsets).toEqual([...server.offsets].sort((a, b) => a - b))
    expect(new Set(server.offsets).size).toBe(server.offsets.length)
    expect(await readFile(path.join(dir, 'std_log.txt'), 'utf8')).toBe(lines.join(''))
  })

  it('passes the bytes through as written, never decoding them: invalid UTF-8 and characters cut across writes and appends', async () => {
    const server = store()
    const local = path.join(dir, 'l.txt')
    const log = new LiveLog({ append: server.append, localFile: local, maxAppendBytes: 3, intervalMs: 1 })
    // A stray 0xff and a cut-off 0xe6 would each become U+FFFD (3 bytes) if the log decoded text.
    const written = Buffer.concat([Buffer.from('日本語 😀 '), Buffer.from([0xff, 0x41, 0xe6]), Buffer.from(' done\n')])
    for (let i = 0; i < written.length; i++) {
      log.write(written.subarray(i, i + 1))
      if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await log.close()
    expect(server.bytes().equals(written)).toBe(true)
    expect((await readFile(local)).equals(written)).toBe(true)
  })

  it('retries a failed append at the same offset, losing and doubling nothing', async () => {
    const server = store({ failFirst: 3 })
    const log = new LiveLog({
      append: server.append,
      localFile: path.join(dir, 'l.txt'),
      maxAppendBytes: 1 << 20,
      intervalMs: 1,
      retryDelaysMs: [1, 2],
    })
    log.write('first\n')
    await new Promise((resolve) => setTimeout(resolve, 20))
    log.write('second\n')
    await log.close()
    expect(server.text()).toBe('first\nsecond\n')
  })

  it('masks a secret, also one split across writes, in the live copy and the local one', async () => {
    const server = store()
    const secret = 'tok_ABCDEFGHIJKLMNOP'
    const log = new LiveLog({
      append: server.append,
      localFile: path.join(dir, 'l.txt'),
      maxAppendBytes: 1 << 20,
      intervalMs: 1,
      secrets: [secret],
    })
    log.write(`a ${secret} b\n`)
    log.write('c tok_ABCDEF')
    await new Promise((resolve) => setTimeout(resolve, 20))
    log.write('GHIJKLMNOP d\ntok_')
    await log.close()
    expect(server.text()).toBe('a *** b\nc *** d\ntok_')
    expect(await readFile(path.join(dir, 'l.txt'), 'utf8')).toBe('a *** b\nc *** d\ntok_')
  })

  it('stops the live copy after a refused append and says so, keeping the local copy', async () => {
    const refusals: unknown[] = []
    const log = new LiveLog({
      append: () => Promise.reject(new WharfError('FORBIDDEN', 'no')),
      localFile: path.join(dir, 'l.txt'),
      maxAppendBytes: 100,
      intervalMs: 1,
      isTransient: (error) => (error as WharfError).code !== 'FORBIDDEN',
      onGiveUp: (error) => refusals.push(error),
    })
    log.write('x\n')
    log.write('y\n')
    await log.close()
    expect(refusals).toHaveLength(1)
    expect(await readFile(path.join(dir, 'l.txt'), 'utf8')).toBe('x\ny\n')
  })
})
