import { describe, expect, it } from 'vitest'
import { WharfError } from '@wharf/contract'
import { DeliveryLedger, PendingLog, waitForSequence } from './ledger.js'
import { watchSettlement } from '../test-support/settlement.js'

/** The ref'd timers of this process: what keeps it from ending. */
function refdTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
}

const refused = new WharfError('RUN_NOT_FOUND', 'run "gone" not found')

describe('DeliveryLedger', () => {
  it('resolves a wait once every batch up to its sequence is stored, and not before', async () => {
    const ledger = new DeliveryLedger()
    const second = watchSettlement(ledger.wait(2))
    const first = watchSettlement(ledger.wait(0))
    ledger.settleStored(0)
    expect(await first()).toBe('resolved')
    expect(await second()).toBe('pending')
    ledger.settleStored(3)
    expect(await second()).toBe('resolved')
    expect(ledger.storedThrough).toBe(3)
    // Settling an older sequence later changes nothing.
    ledger.settleStored(1)
    expect(ledger.storedThrough).toBe(3)
    await expect(ledger.known(3)).resolves.toBeUndefined()
    expect(ledger.known(4)).toBeUndefined()
  })

  it('rejects the wait on a lost batch with its error, and every later one with an error naming it', async () => {
    const ledger = new DeliveryLedger()
    const before = watchSettlement(ledger.wait(0))
    const lost = watchSettlement(ledger.wait(1))
    const after = watchSettlement(ledger.wait(3))
    ledger.markLost(1, refused)
    expect(await lost()).toBe(refused)
    const later = await after()
    expect(later).toMatchObject({ code: 'RUN_NOT_FOUND', details: { sequence: 1 } })
    expect((later as WharfError).message).toMatch(/earlier batch of this logger \(sequence 1\) could not be stored/)
    // A batch before the lost one is still stored normally.
    expect(await before()).toBe('pending')
    ledger.settleStored(0)
    expect(await before()).toBe('resolved')
    // And a wait asked for after the loss, on a batch stored after it, still rejects: a point before it is missing.
    ledger.settleStored(5)
    await expect(ledger.wait(4)).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' })
    await expect(ledger.wait(0)).resolves.toBeUndefined()
  })

  it('rejects only the waits on spooled batches not yet stored; stopping rejects the rest', async () => {
    const ledger = new DeliveryLedger()
    ledger.settleStored(0)
    ledger.markSpooled(2)
    const spooled = [watchSettlement(ledger.wait(1)), watchSettlement(ledger.wait(2))]
    const notSpooled = watchSettlement(ledger.wait(3))
    const unreachable = new WharfError('SERVER_UNREACHABLE', 'saved in the spool file')
    ledger.rejectSpooled(unreachable)
    for (const outcome of spooled) expect(await outcome()).toBe(unreachable)
    expect(await notSpooled()).toBe('pending')
    const stopped = new WharfError('SERVER_UNREACHABLE', 'the logger was closed')
    ledger.rejectAll(stopped)
    expect(await notSpooled()).toBe(stopped)
  })

  it('gives one promise per sequence, and holds the process open exactly while someone waits', async () => {
    const ledger = new DeliveryLedger()
    const idle = refdTimers()
    const first = ledger.wait(7)
    expect(ledger.wait(7)).toBe(first)
    const other = ledger.wait(8)
    expect(refdTimers()).toBe(idle + 1)
    ledger.settleStored(7)
    await first
    expect(refdTimers()).toBe(idle + 1)
    ledger.settleStored(8)
    await other
    expect(refdTimers()).toBe(idle)
  })
})

describe('PendingLog', () => {
  it('waits only when asked, so an ignored handle of a lost batch is no unhandled rejection', async () => {
    const ledger = new DeliveryLedger()
    let asked = 0
    const logger = {
      [waitForSequence]: (sequence: number) => {
        asked++
        return ledger.wait(sequence)
      },
    }
    const ignored = new PendingLog(logger, 0)
    const awaited = new PendingLog(logger, 1)
    ledger.markLost(0, refused)
    // Vitest fails the file on an unhandled rejection: give one the chance to happen.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(ignored).toBeInstanceOf(PendingLog)
    expect(asked).toBe(0)
    await expect(awaited).rejects.toMatchObject({ code: 'RUN_NOT_FOUND', details: { sequence: 0 } })
    await expect(awaited.wait()).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' })
    expect(asked).toBe(2)
  })
})
