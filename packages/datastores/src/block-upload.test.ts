import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { BlockUpload, type Block } from './block-upload.js'
import { HashingStream, feedBody } from './hashing.js'

function hashed(chunks: Buffer[]): HashingStream {
  const hasher = new HashingStream()
  feedBody(Readable.from(chunks), hasher)
  return hasher
}

describe('BlockUpload', () => {
  it('sends full blocks in order with their offsets and leaves the rest to the caller', async () => {
    const body = Buffer.from(Array.from({ length: 25 }, (_, i) => i))
    const sent: Block[] = []
    const upload = new BlockUpload(hashed([body.subarray(0, 7), body.subarray(7, 8), body.subarray(8)]), {
      blockSize: 10,
      concurrency: 2,
      send: (block) => Promise.resolve(void sent.push(block)),
    })
    const rest = await upload.sendFullBlocks()
    await upload.finish()
    expect(sent.map(({ index, offset, data }) => ({ index, offset, data: [...data] }))).toEqual([
      { index: 0, offset: 0, data: [...body.subarray(0, 10)] },
      { index: 1, offset: 10, data: [...body.subarray(10, 20)] },
    ])
    expect([...rest]).toEqual([...body.subarray(20)])
    await upload.finish(rest)
    expect(sent[2]).toMatchObject({ index: 2, offset: 20 })
    expect(upload.count).toBe(3)
  })

  it('never has more than `concurrency` blocks in flight, and prepares each before it is sent, in order', async () => {
    let inFlight = 0
    let most = 0
    const events: string[] = []
    const upload = new BlockUpload(hashed(Array.from({ length: 8 }, () => Buffer.alloc(4, 1))), {
      blockSize: 4,
      concurrency: 3,
      prepare: async ({ index }) => {
        await new Promise((resolve) => setImmediate(resolve))
        events.push(`prepare ${index}`)
      },
      send: async ({ index }) => {
        events.push(`send ${index}`)
        most = Math.max(most, ++inFlight)
        await new Promise((resolve) => setTimeout(resolve, 5))
        inFlight--
      },
    })
    await upload.finish(await upload.sendFullBlocks())
    expect(most).toBe(3)
    for (let index = 0; index < 8; index++) expect(events.indexOf(`prepare ${index}`)).toBe(events.indexOf(`send ${index}`) - 1)
  })

  it('stops reading at the first failed block and throws its error from finish or the read', async () => {
    const broken = new Error('the storage refused block 1')
    let pulled = 0
    const chunks = function* (): Generator<Buffer> {
      for (let i = 0; i < 1000; i++) {
        pulled++
        yield Buffer.alloc(64 * 1024, i)
      }
    }
    const hasher = new HashingStream()
    feedBody(Readable.from(chunks()), hasher)
    const upload = new BlockUpload(hasher, {
      blockSize: 64 * 1024,
      concurrency: 1,
      send: ({ index }) => (index === 1 ? Promise.reject(broken) : Promise.resolve()),
    })
    const outcome = await upload
      .sendFullBlocks()
      .then(async (rest) => upload.finish(rest))
      .catch((error: unknown) => error)
    await upload.settle()
    expect(outcome).toBe(broken)
    expect(upload.failure).toBe(broken)
    expect(pulled).toBeLessThan(100)
  })

  it('stops before sending a block that prepare refuses', async () => {
    const tooMany = new Error('too many blocks')
    const sent: number[] = []
    const upload = new BlockUpload(hashed(Array.from({ length: 5 }, () => Buffer.alloc(4))), {
      blockSize: 4,
      concurrency: 2,
      prepare: ({ index }) => {
        if (index >= 2) throw tooMany
      },
      send: ({ index }) => Promise.resolve(void sent.push(index)),
    })
    await expect(upload.sendFullBlocks()).rejects.toBe(tooMany)
    await upload.settle()
    expect(sent).toEqual([0, 1])
  })
})
