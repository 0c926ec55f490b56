import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Run } from '@wharf/sdk'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

describe.skipIf(skip !== undefined)('the compare page', () => {
  let studio: Studio
  const runs: Run[] = []
  beforeAll(async () => {
    studio = await startStudio()
    const experiment = studio.workspace.experiment('e2e-compare')
    for (const [i, lr] of ['0.1', '0.01', '0.001'].entries()) {
      const run = await experiment.startLogging({ displayName: `lr ${lr}`, tags: { lr, team: 'vision' } })
      await run.addProperties({ optimizer: i === 2 ? 'sgd' : 'adam', seed: '7' })
      // Runs of different lengths: the longest sets the shared step axis.
      for (let step = 0; step < 100 + i * 50; step++) void run.log('loss', (1 + i) / (1 + step / 10), { step })
      if (i < 2) void run.log('only_in_two', i, { step: 0 })
      await run.flush()
      await run.complete()
      runs.push(run)
    }
  })
  afterAll(async () => {
    await studio?.stop()
  })

  const compareUrl = () => `/w/default/compare?${runs.map((r) => `run=${r.id}`).join('&')}`

  it('overlays a line per run on each metric, with a legend of run names, and lists what differs', async () => {
    const { page, errors } = await studio.open(compareUrl())
    const loss = page.locator('.metric-chart[data-metric="loss"]')
    await loss.and(page.locator('[data-painted]')).waitFor()
    await expect(loss.getAttribute('data-points')).resolves.toBe(String(100 + 150 + 200))
    await expect(loss.locator('.legend-label').allTextContents()).resolves.toEqual(['lr 0.1', 'lr 0.01', 'lr 0.001'])
    // Each run's last value, its colour from the stylesheet's palette.
    const lastOf = (i: number) => String(Number(((1 + i) / (1 + (99 + i * 50) / 10)).toPrecision(6)))
    await expect(loss.locator('.legend-value').allTextContents()).resolves.toEqual([lastOf(0), lastOf(1), lastOf(2)])
    const swatches = await Promise.all((await loss.locator('.swatch').all()).map((s) => s.getAttribute('style')))
    expect(new Set(swatches).size).toBe(3)
    // A metric two runs logged is drawn for those two.
    await expect(page.locator('.metric-chart[data-metric="only_in_two"] .legend-label').allTextContents()).resolves.toEqual([
      'lr 0.1',
      'lr 0.01',
    ])
    await expect(page.getByRole('list', { name: 'Runs compared' }).getByRole('link').allTextContents()).resolves.toEqual([
      'lr 0.1',
      'lr 0.01',
      'lr 0.001',
    ])

    // Differences: lr, optimizer and the metrics differ; team and seed are the same and hidden.
    const table = page.locator('.compare-table')
    const names = () => table.locator('tbody th[scope="row"]').allTextContents()
    await expect(names()).resolves.toEqual(['lr', 'optimizer', 'loss', 'only_in_two'])
    await expect(
      table
        .getByRole('row', { name: /optimizer/ })
        .getByRole('cell')
        .allTextContents(),
    ).resolves.toEqual(['property', 'adam', 'adam', 'sgd'])
    await page.getByRole('checkbox', { name: 'Show rows that are the same too' }).check()
    await page.waitForURL(/rows=all/)
    await expect(names()).resolves.toEqual(['lr', 'team', 'optimizer', 'seed', 'loss', 'only_in_two'])
    await studio.screenshot(page, 'compare')
    expect(errors).toEqual([])
  })

  it('removes a run from the comparison through the URL, and Back brings it again', async () => {
    const { page, errors } = await studio.open(compareUrl())
    await page.locator('.metric-chart[data-metric="loss"][data-painted]').waitFor()
    await page.getByRole('button', { name: 'Remove lr 0.01 from the comparison' }).click()
    await page.waitForURL((url) => url.searchParams.getAll('run').join() === `${runs[0]!.id},${runs[2]!.id}`)
    const loss = page.locator('.metric-chart[data-metric="loss"]')
    await loss.and(page.locator('[data-points="300"]')).waitFor()
    await expect(loss.locator('.legend-label').allTextContents()).resolves.toEqual(['lr 0.1', 'lr 0.001'])
    await page.goBack()
    await loss.and(page.locator('[data-points="450"]')).waitFor()
    expect(errors).toEqual([])
  })

  it('zooms every chart into the URL, and says what to do with no runs', async () => {
    const { page, errors } = await studio.open(compareUrl())
    const loss = page.locator('.metric-chart[data-metric="loss"]')
    await loss.and(page.locator('[data-painted]')).waitFor()
    const box = await loss.locator('.u-over').boundingBox()
    if (box === null) throw new Error('no plot area')
    await page.mouse.move(box.x + box.width * 0.1, box.y + 40)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.4, box.y + 40, { steps: 6 })
    await page.mouse.up()
    await page.waitForURL(/from=\d+&to=\d+/)
    const url = new URL(page.url())
    await loss.and(page.locator(`[data-view="step:${url.searchParams.get('from')}-${url.searchParams.get('to')}"]`)).waitFor()
    expect(url.searchParams.getAll('run')).toHaveLength(3)
    const empty = await studio.open('/w/default/compare')
    await empty.page.getByText('No runs to compare yet.').waitFor()
    expect([...errors, ...empty.errors]).toEqual([])
  })

  it('follows a live run: its line grows as it logs, its status changes, and polling stops once all have ended', async () => {
    const live = await studio.workspace.experiment('e2e-compare').startLogging({ displayName: 'live sweep' })
    try {
      for (let step = 0; step < 20; step++) void live.log('loss', 2 / (1 + step), { step })
      await live.flush()
      const { page, errors } = await studio.open(`/w/default/compare?run=${runs[0]!.id}&run=${live.id}`)
      const loss = page.locator('.metric-chart[data-metric="loss"]')
      await loss.and(page.locator('[data-points="120"]')).waitFor()
      await page.getByText('Live: new points appear as they are logged').waitFor()

      for (let step = 20; step < 50; step++) void live.log('loss', 2 / (1 + step), { step })
      await live.flush()
      await loss.and(page.locator('[data-points="150"]')).waitFor({ timeout: 15_000 })
      await live.complete()
      await page.getByRole('list', { name: 'Runs compared' }).getByText('Completed').nth(1).waitFor({ timeout: 15_000 })
      await page.getByText('Live: new points appear as they are logged').waitFor({ state: 'detached' })

      // Ended: nothing more is asked of the server.
      let reads = 0
      page.on('request', (request) => {
        if (request.url().includes('/api/')) reads++
      })
      await page.waitForTimeout(5000)
      expect(reads).toBe(0)
      expect(errors).toEqual([])
    } finally {
      if (!(await live.getStatus().then((s) => s === 'Completed'))) await live.complete()
    }
  })

  it('is readable 390 pixels wide', async () => {
    const { page, errors } = await studio.open(compareUrl(), { viewport: PHONE, colorScheme: 'dark' })
    await page.locator('.metric-chart[data-metric="loss"][data-painted]').waitFor()
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await studio.screenshot(page, 'compare-phone-dark')
    expect(errors).toEqual([])
  })
})
