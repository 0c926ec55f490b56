import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import type { DatastoreDriver } from '../driver.js'
import { toDatastoreKey } from '../key.js'
import * as contract from '../test-support/driver-contract.js'
import { startS3rver, type S3rverInstance } from '../test-support/s3rver.js'
import { createS3Driver, type S3DriverOptions } from './driver.js'

const key = toDatastoreKey
const MiB = 1024 * 1024
let server: S3rverInstance

beforeAll(async () => {
  server = await startS3rver()
})

afterAll(async () => {
  await server.stop()
})

function uniqueBucket(): string {
  return `wharf-${randomBytes(6).toString('hex')}`
}

function driverFor(bucket: string, overrides: Partial<S3DriverOptions> = {}): DatastoreDriver {
  return createS3Driver({
    bucket,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...overrides,
  })
}

/** Deletes every object, so the bucket's files are gone (s3rver's temp folder goes when it stops). */
async function emptyBucket(driver: DatastoreDriver): Promise<void> {
  for (const k of await contract.keysOf(driver)) await driver.delete(key(k))
}

// The bucket does not exist yet: the suite's validate({ create: true }) must make it.
contract.describeDatastoreContract(
  's3 (s3rver)',
  () => {
    const driver = driverFor(uniqueBucket())
    return Promise.resolve({ driver, cleanup: () => emptyBucket(driver) })
  },
  {
    concurrentPutsInterleave:
      's3rver streams a PUT straight into the stored file (fs.createWriteStream on the object path), so racing PUTs can mix; Amazon S3 makes each PUT whole and atomic',
    conditionalPutIgnored:
      's3rver 3.7 ignores If-None-Match on PutObject and CompleteMultipartUpload (it reads that header only for GET), so a conditional put replaces the object; Amazon S3 refuses it with 412 since 2024',
  },
)

describe('s3 driver (s3rver)', () => {
  let bucket: string
  let driver: DatastoreDriver

  beforeEach(async () => {
    bucket = uniqueBucket()
    driver = driverFor(bucket, { partSize: 5 * MiB, concurrency: 2 })
    await driver.validate({ create: true })
  })

  it('round-trips ~12 MiB through a multipart upload with the right SHA-256', async () => {
    const size = 12 * MiB + 7
    const expected = await contract.digestOf(contract.generatedChunks(size, 9))
    const stored = await driver.put(key('multi/part.bin'), Readable.from(contract.generatedChunks(size, 9)), { size })
    expect(stored).toEqual(expected)
    expect(await contract.digestOf(await driver.get(key('multi/part.bin')))).toEqual(expected)
    expect((await driver.stat(key('multi/part.bin')))?.size).toBe(size)
    const tail = await contract.readAll(await driver.get(key('multi/part.bin'), { range: { start: size - 10 } }))
    expect(tail.length).toBe(10)
  })

  it('a multipart put whose body fails after some parts, or is too short, leaves the old object', async () => {
    await driver.put(key('big.bin'), contract.bodyOf('old'))
    async function* partsThenBoom(): AsyncGenerator<Buffer> {
      yield* contract.generatedChunks(11 * MiB, 3)
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('client went away')
    }
    await expect(driver.put(key('big.bin'), Readable.from(partsThenBoom()))).rejects.toThrow('client went away')
    expect(
      await contract.codeOf(() =>
        driver.put(key('big.bin'), Readable.from(contract.generatedChunks(11 * MiB, 4)), { size: 12 * MiB }),
      ),
    ).toBe('INVALID_ARGUMENT')
    expect((await contract.readAll(await driver.get(key('big.bin')))).toString()).toBe('old')
    expect(await contract.keysOf(driver)).toEqual(['big.bin'])
  })

  it('an abort mid-way through a multipart put leaves the old object', async () => {
    await driver.put(key('big.bin'), contract.bodyOf('old'))
    const controller = new AbortController()
    const { body, pulledMore } = contract.stalledBody(Buffer.alloc(6 * MiB, 5))
    const put = driver.put(key('big.bin'), body, { signal: controller.signal }).catch((e: unknown) => e)
    await pulledMore
    controller.abort()
    expect(((await put) as Error).name).toBe('AbortError')
    expect(body.destroyed).toBe(false)
    body.destroy()
    expect((await contract.readAll(await driver.get(key('big.bin')))).toString()).toBe('old')
  })

  it('a body error comes back as it is, and the body is not destroyed by a failed put', async () => {
    const boom = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    const error: unknown = await driver.put(key('e.bin'), contract.failingBody(Buffer.alloc(10), boom)).catch((e: unknown) => e)
    expect(error).toBe(boom)
    const body = contract.bodyOf('abc', 'def', 'ghi')
    expect(await contract.codeOf(() => driver.put(key('m.bin'), body, { size: 4 }))).toBe('INVALID_ARGUMENT')
    expect(body.destroyed).toBe(false)
    expect(await driver.stat(key('m.bin'))).toBeUndefined()
  })

  it('keeps the content type', async () => {
    await driver.put(key('page.html'), contract.bodyOf('<p>hi</p>'), { contentType: 'text/html' })
    const response = await fetch(`${server.endpoint}/${bucket}/page.html`).catch(() => undefined)
    // s3rver refuses an unsigned GET unless the bucket is public; the put itself must have succeeded.
    if (response?.ok) expect(response.headers.get('content-type')).toBe('text/html')
    expect((await contract.readAll(await driver.get(key('page.html')))).toString()).toBe('<p>hi</p>')
  })

  it('validate without create names a missing bucket and the endpoint', async () => {
    const missing = uniqueBucket()
    const error: unknown = await driverFor(missing)
      .validate()
      .catch((e: unknown) => e)
    expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toContain(missing)
    expect((error as Error).message).toContain(server.endpoint)
  })

  // s3rver 3.7 checks the access key id but does not verify SigV4 signatures (its source: "Signature
  // version 4 calculation is unimplemented"), so a wrong secret with the right id is accepted there.
  // An unknown access key id is refused (InvalidAccessKeyId), which is what this test can exercise.
  it('refuses an unknown access key id with FORBIDDEN naming bucket and endpoint, never showing the secret (s3rver does not verify SigV4 secrets)', async () => {
    const secret = `wrong-secret-${randomBytes(8).toString('hex')}`
    const refused = driverFor(bucket, { credentials: { accessKeyId: 'NOBODY', secretAccessKey: secret } })
    const failures = [
      () => refused.validate(),
      () => refused.validate({ create: true }),
      () => refused.put(key('x'), contract.bodyOf('x')),
      () => refused.get(key('x')),
      () => refused.stat(key('x')),
      () => refused.delete(key('x')),
      () => contract.keysOf(refused),
    ]
    for (const fail of failures) {
      const error: unknown = await fail().catch((e: unknown) => e)
      expect(isWharfError(error, 'FORBIDDEN'), inspect(error)).toBe(true)
      const message = (error as Error).message
      expect(message).toContain(bucket)
      expect(message).toContain(server.endpoint)
      expect(message).toMatch(/refused the credentials/)
      expect((error as { details?: Record<string, unknown> }).details?.field).toBe('secretAccessKey')
      expect((error as Error).cause).toBeDefined()
      expect(inspect(error, { depth: 12, showHidden: true })).not.toContain(secret)
      expect(JSON.stringify(error)).not.toContain(secret)
    }
  })

  it('s3rver accepts a wrong secret for a known access key id (it does not verify SigV4), so that case is untestable here', async () => {
    const wrongSecret = driverFor(bucket, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret' } })
    await expect(wrongSecret.validate()).resolves.toBeUndefined()
  })

  it('names the endpoint when the server cannot be reached', async () => {
    const endpoint = 'http://127.0.0.1:9'
    const down = driverFor(bucket, { endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
    const error: unknown = await down.validate().catch((e: unknown) => e)
    expect(isWharfError(error, 'DATASTORE_UNAVAILABLE'), inspect(error)).toBe(true)
    expect((error as Error).message).toContain(endpoint)
  })

  it('refuses bad options', () => {
    expect(() => driverFor(bucket, { partSize: 1024 })).toThrow(/5 MiB/)
    expect(() => driverFor(bucket, { concurrency: 0 })).toThrow(/concurrency/)
    expect(() => driverFor('')).toThrow(/bucket/)
  })
})
