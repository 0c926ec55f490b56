import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Run } from '@wharf/sdk'
import { startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

/** Slows the page's CPU by `rate`: a loaded machine, where a render can lag several keystrokes behind. */
async function throttle(page: Page, rate: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Emulation.setCPUThrottlingRate', { rate })
}

/**
 * Filters, toggles and selections live in the URL. They must answer a click or a keystroke at once and
 * never drop one, however slowly the page renders: a form control whose state is the URL is still a
 * form control.
 */
describe.skipIf(skip !== undefined)('form controls kept in the URL, on a slow machine', () => {
  let studio: Studio
  const runs: Run[] = []
  beforeAll(async () => {
    studio = await startStudio()
    const experiment = studio.workspace.experiment('e2e-url-controls')
    for (const lr of ['0.1', '0.2']) {
      const run = await experiment.startLogging({ displayName: `lr ${lr}`, tags: { lr } })
      void run.log('loss', Number(lr), { step: 0 })
      await run.flush()
      await run.complete()
      runs.push(run)
    }
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('keeps every keystroke of a filter typed fast', async () => {
    const { page, errors } = await studio.open('/w/default/experiments')
    const filter = page.getByRole('searchbox', { name: 'Filter' })
    await filter.waitFor()
    await throttle(page, 15)
    await filter.pressSequentially('e2e-url-controls')
    await expect(filter.inputValue()).resolves.toBe('e2e-url-controls')
    await page.waitForURL(/q=e2e-url-controls$/)
    expect(errors).toEqual([])
  })

  it('ticks a run, a status and the compare toggle on the first click', async () => {
    const { page, errors } = await studio.open('/w/default/experiments/e2e-url-controls')
    const first = page.getByRole('checkbox', { name: `Select lr 0.1 to compare` })
    await first.waitFor()
    await throttle(page, 15)
    await first.check()
    await page.getByRole('checkbox', { name: `Select lr 0.2 to compare` }).check()
    await page.locator('.status-filter summary').click()
    await page.getByRole('checkbox', { name: /^Completed/ }).check()
    const search = page.getByRole('searchbox', { name: 'Search' })
    await search.pressSequentially('lr 0.2')
    await expect(search.inputValue()).resolves.toBe('lr 0.2')
    await page.waitForURL((url) => url.searchParams.get('q') === 'lr 0.2')

    const compare = await studio.open(`/w/default/compare?${runs.map((r) => `run=${r.id}`).join('&')}`)
    const toggle = compare.page.getByRole('checkbox', { name: 'Show rows that are the same too' })
    await toggle.waitFor()
    await throttle(compare.page, 15)
    await toggle.check()
    await toggle.uncheck()
    await toggle.check()
    await compare.page.waitForURL(/rows=all/)
    expect([...errors, ...compare.errors]).toEqual([])
  })
})
