import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAzureBlobDriver } from './azure-blob/driver.js'
import type { DatastoreDriver } from './driver.js'
import { toDatastoreKey } from './key.js'
import { createRenewingDriver, type DriverLease } from './renewing.js'
import { mintContainerSas } from './sas.js'
import { startAzurite, type AzuriteInstance } from './test-support/azurite.js'
import { bodyOf, codeOf, keysOf, readAll } from './test-support/driver-contract.js'

// Real SAS tokens that really expire (after 5–6 s), against Azurite: the renewing driver must keep working past the
// first token's end, where a driver on that token alone is refused.
describe('renewing driver over expiring SAS tokens (Azurite)', () => {
  let azurite: AzuriteInstance
  const containerName = `renew-${randomBytes(6).toString('hex')}`
  const LIFETIME_MS = 6000

  beforeAll(async () => {
    azurite = await startAzurite()
    const owner = createAzureBlobDriver({
      accountName: azurite.accountName,
      containerName,
      credential: { kind: 'key', accountKey: azurite.accountKey },
      endpoint: azurite.endpoint,
    })
    await owner.validate({ create: true })
  })

  afterAll(async () => {
    await azurite.stop()
  })

  function lease(): DriverLease {
    const { sasToken, expiresOn } = mintContainerSas({
      kind: 'azure_blob',
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      containerName,
      operation: 'write',
      lifetimeMs: LIFETIME_MS,
      allowHttp: true,
    })
    const driver = createAzureBlobDriver({
      accountName: azurite.accountName,
      containerName,
      credential: { kind: 'sas', sasToken },
      endpoint: azurite.endpoint,
    })
    return { driver, expiresOn }
  }

  it('asks for a new token near the end of the current one, and goes on where the old token is refused', async () => {
    const first = lease()
    let renewals = 0
    const driver: DatastoreDriver = createRenewingDriver({
      kind: 'azure_blob',
      first,
      renewBeforeMs: 1000,
      renew: () => {
        renewals++
        return Promise.resolve(lease())
      },
    })
    await driver.put(toDatastoreKey('a.txt'), bodyOf('first'))
    expect(renewals).toBe(0)

    // Sleep past the first token's end (SAS expiry has one-second granularity).
    await sleep(first.expiresOn.getTime() - Date.now() + 1500)
    expect(await codeOf(() => first.driver.put(toDatastoreKey('late.txt'), bodyOf('x')))).toBe('FORBIDDEN')

    // Several calls at once share one renewal.
    await Promise.all([
      driver.put(toDatastoreKey('b.txt'), bodyOf('second')),
      driver.put(toDatastoreKey('c.txt'), bodyOf('third')),
      driver.stat(toDatastoreKey('a.txt')),
    ])
    expect(renewals).toBe(1)
    expect((await readAll(await driver.get(toDatastoreKey('b.txt')))).toString()).toBe('second')
    expect(await keysOf(driver)).toEqual(['a.txt', 'b.txt', 'c.txt'])
  })

  it('keeps using a still-valid token when renewing fails, and gives the renewal error once it has expired', async () => {
    const first = lease()
    let attempts = 0
    const driver = createRenewingDriver({
      kind: 'azure_blob',
      first,
      renew: () => {
        attempts++
        return Promise.reject(new Error('the server is down'))
      },
    })
    await driver.put(toDatastoreKey('still.txt'), bodyOf('ok'))
    expect(attempts).toBe(0)
    // A second before its end: past the last third of its life, when a short token is renewed (not 10
    // minutes before its end), yet still valid.
    await sleep(first.expiresOn.getTime() - Date.now() - 1000)
    expect(await driver.stat(toDatastoreKey('still.txt'))).toMatchObject({ size: 2 })
    expect(attempts).toBe(1)
    // Not asked again at once on the next call.
    expect(await driver.stat(toDatastoreKey('still.txt'))).toMatchObject({ size: 2 })
    expect(attempts).toBe(1)

    await sleep(first.expiresOn.getTime() - Date.now() + 100)
    await expect(driver.stat(toDatastoreKey('still.txt'))).rejects.toThrow('the server is down')
  })
})
