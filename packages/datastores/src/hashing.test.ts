import { createHash, randomBytes } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import { createHashingStream, feedBody } from './hashing.js'

function sink(): Writable & { received: Buffer[] } {
  const received: Buffer[] = []
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      received.push(chunk)
      done()
    },
  })
  return Object.assign(out, { received })
}

function digests(bytes: Buffer): { size: number; sha256: string; md5: string } {
  return {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('base64'),
  }
}

describe('createHashingStream', () => {
  it('passes bytes through unchanged and reports size, SHA-256 (hex) and MD5 (base64)', async () => {
    const chunks = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0), randomBytes(3)]
    const hasher = createHashingStream()
    const out = sink()
    await pipeline(Readable.from(chunks), hasher, out)
    const all = Buffer.concat(chunks)
    expect(Buffer.concat(out.received).equals(all)).toBe(true)
    expect(hasher.result()).toEqual(digests(all))
    expect(hasher.bytes).toBe(all.length)
  })

  it('digests an empty body', async () => {
    const hasher = createHashingStream({ size: 0 })
    await pipeline(Readable.from([]), hasher, sink())
    expect(hasher.result()).toEqual(digests(Buffer.alloc(0)))
  })

  it('takes string and Uint8Array chunks as their bytes', async () => {
    const hasher = createHashingStream()
    await pipeline(Readable.from(['héllo', new Uint8Array([1, 2, 3])]), hasher, sink())
    expect(hasher.result()).toEqual(digests(Buffer.concat([Buffer.from('héllo'), Buffer.from([1, 2, 3])])))
  })

  it('accepts a body of exactly the declared size', async () => {
    const hasher = createHashingStream({ size: 6 })
    await pipeline(Readable.from([Buffer.from('abc'), Buffer.from('def')]), hasher, sink())
    expect(hasher.result().size).toBe(6)
  })

  it('fails a body longer than declared as soon as it is too long', async () => {
    const hasher = createHashingStream({ size: 4 })
    const out = sink()
    const error: unknown = await pipeline(
      Readable.from([Buffer.from('abc'), Buffer.from('def'), Buffer.from('ghi')]),
      hasher,
      out,
    ).catch((e: unknown) => e)
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toMatch(/more than 4 bytes but its declared size is 4/)
    expect(Buffer.concat(out.received).length).toBeLessThanOrEqual(4)
  })

  it('fails a body shorter than declared', async () => {
    const hasher = createHashingStream({ size: 10 })
    const error: unknown = await pipeline(Readable.from([Buffer.from('abc')]), hasher, sink()).catch((e: unknown) => e)
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toMatch(/has 3 bytes but its declared size is 10/)
    expect(() => hasher.result()).toThrow(/before the stream ended/)
  })

  it('checks the bytes against an expected SHA-256 at their end', async () => {
    const bytes = Buffer.from('expected')
    const good = createHashingStream({ sha256: digests(bytes).sha256 })
    await pipeline(Readable.from([bytes]), good, sink())
    expect(good.result()).toEqual(digests(bytes))
    const bad = createHashingStream({ sha256: digests(bytes).sha256 })
    const error: unknown = await pipeline(Readable.from([Buffer.from('other')]), bad, sink()).catch((e: unknown) => e)
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toMatch(/hash to [0-9a-f]{64}, not [0-9a-f]{64}; nothing was stored/)
    expect(() => bad.result()).toThrow(/before the stream ended/)
  })

  it('rejects a declared size that is not a whole number of bytes', () => {
    for (const size of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createHashingStream({ size }), String(size)).toThrow(/not a whole number/)
    }
  })

  it('has no result before the stream ends', () => {
    expect(() => createHashingStream().result()).toThrow(/before the stream ended/)
  })
})

describe('feedBody', () => {
  const drain = async (hasher: Readable): Promise<unknown> => pipeline(hasher, sink()).catch((e: unknown) => e)

  it("tells the caller's own failure: the body's error, else the hasher's refusal of the size", async () => {
    const broken = new Error('the source went away')
    const failing = createHashingStream()
    const feed = feedBody(
      Readable.from(
        (async function* () {
          yield Buffer.from('abc')
          await new Promise((resolve) => setImmediate(resolve))
          throw broken
        })(),
      ),
      failing,
    )
    await drain(failing)
    expect(feed.callerError()).toBe(broken)

    const short = createHashingStream({ size: 10 })
    const shortFeed = feedBody(Readable.from([Buffer.from('abc')]), short)
    await drain(short)
    expect(isWharfError(shortFeed.callerError(), 'INVALID_ARGUMENT')).toBe(true)
  })

  it('tells none when the put failed for another reason', async () => {
    const hasher = createHashingStream()
    const feed = feedBody(Readable.from([Buffer.from('abc')]), hasher)
    hasher.destroy(new Error('the storage refused a block'))
    await drain(hasher)
    expect(feed.callerError()).toBeUndefined()
  })
})
