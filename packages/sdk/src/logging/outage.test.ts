import { describe, expect, it } from 'vitest'
import { WharfError } from '@wharf/contract'
import { DeliveryLedger } from './ledger.js'
import { Outage } from './outage.js'
import { watchSettlement } from '../test-support/settlement.js'

const SPOOL_FILE = '/spool/run-1.writer-1.jsonl'
const cause = new WharfError('SERVER_UNREACHABLE', 'cannot reach the Wharf server at http://127.0.0.1:9')

/** A ledger with batches 0..2 spooled (none stored), an outage over it, and what it reported. */
function setUp(options: { waitTimeoutMs: number }): { ledger: DeliveryLedger; outage: Outage; reports: WharfError[] } {
  const ledger = new DeliveryLedger()
  ledger.markSpooled(2)
  const reports: WharfError[] = []
  const outage = new Outage({
    ledger,
    runId: 'run-1',
    writerId: 'writer-1',
    spoolFile: SPOOL_FILE,
    waitTimeoutMs: options.waitTimeoutMs,
    report: (error) => reports.push(error),
  })
  return { ledger, outage, reports }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('Outage', () => {
  it('says where the points are, and rejects the waits on spooled points only once waitTimeoutMs has passed', async () => {
    const { ledger, outage, reports } = setUp({ waitTimeoutMs: 100 })
    const spooled = watchSettlement(ledger.wait(1))
    const notSpooled = watchSettlement(ledger.wait(3))
    outage.park(cause)
    expect(outage.isParked).toBe(true)
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatchObject({
      code: 'SERVER_UNREACHABLE',
      cause,
      details: { spoolFile: SPOOL_FILE, runId: 'run-1', writerId: 'writer-1' },
    })
    expect(reports[0]?.message).toContain(`saved in ${SPOOL_FILE}; \`wharf sync\` sends them`)
    expect(await spooled()).toBe('pending')
    expect(outage.refusalFor(1)).toBeUndefined()
    await expect.poll(spooled, { timeout: 5_000, interval: 20 }).toBe(reports[0])
    expect(await notSpooled()).toBe('pending')
    // A new wait on a spooled point is refused at once; one on a point not spooled is not.
    expect(outage.refusalFor(2)).toBe(reports[0])
    expect(outage.refusalFor(3)).toBeUndefined()
    // Batches spooled from now on take their waits with them.
    ledger.markSpooled(3)
    outage.refuseSpooledWaits()
    expect(await notSpooled()).toBe(reports[0])
    outage.stop()
  })

  it('goes back to waiting for the server when it answers before the timeout', async () => {
    const { ledger, outage } = setUp({ waitTimeoutMs: 100 })
    const spooled = watchSettlement(ledger.wait(1))
    outage.park(cause)
    outage.unpark()
    expect(outage.isParked).toBe(false)
    await sleep(250)
    expect(await spooled()).toBe('pending')
    expect(outage.refusalFor(1)).toBeUndefined()
    ledger.settleStored(1)
    expect(await spooled()).toBe('resolved')
  })

  it('gives up at once with waitTimeoutMs 0, and on a plain close() of a logger already waiting', async () => {
    const atOnce = setUp({ waitTimeoutMs: 0 })
    const first = watchSettlement(atOnce.ledger.wait(0))
    atOnce.outage.park(cause)
    expect(await first()).toMatchObject({ code: 'SERVER_UNREACHABLE', cause })

    const closing = setUp({ waitTimeoutMs: 60_000 })
    const second = watchSettlement(closing.ledger.wait(0))
    closing.outage.park(cause)
    expect(await second()).toBe('pending')
    closing.outage.giveUpAtOnce()
    expect(await second()).toMatchObject({ code: 'SERVER_UNREACHABLE', cause })
  })

  it('never rejects a wait once told to wait for the server (close with waitForServer)', async () => {
    const { ledger, outage, reports } = setUp({ waitTimeoutMs: 0 })
    const spooled = watchSettlement(ledger.wait(1))
    outage.waitForServer()
    outage.park(cause)
    await sleep(50)
    expect(reports).toHaveLength(1)
    expect(await spooled()).toBe('pending')
    expect(outage.refusalFor(1)).toBeUndefined()
    outage.giveUpAtOnce()
    expect(await spooled()).toBe('pending')
    ledger.rejectAll(new WharfError('SERVER_UNREACHABLE', 'closed'))
  })
})
