import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { Run, Workspace } from '@wharf/sdk'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

/** Drags across the middle of a chart's plot, from `from` to `to` (fractions of its width). */
async function dragAcross(page: Page, metric: string, span: { from: number; to: number }): Promise<void> {
  const over = page.locator(`.metric-chart[data-metric="${metric}"] .u-over`)
  const box = await over.boundingBox()
  if (box === null) throw new Error(`the chart of ${metric} has no plot area on screen`)
  const y = box.y + box.height / 2
  await page.mouse.move(box.x + box.width * span.from, y)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * span.to, y, { steps: 8 })
  await page.mouse.up()
}

function chart(page: Page, metric: string) {
  return page.locator(`.metric-chart[data-metric="${metric}"]`)
}

describe.skipIf(skip !== undefined)('the run metrics tab', () => {
  let studio: Studio
  let workspace: Workspace
  let finished: Run
  beforeAll(async () => {
    studio = await startStudio()
    workspace = studio.workspace
    finished = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'finished run' })
    for (let step = 0; step < 400; step++) {
      // One spike at step 200: bucketed by min/max it must stay visible at every zoom.
      void finished.log('loss', step === 200 ? 50 : 2 / (1 + step / 40), { step })
    }
    void finished.log('grad', 1, { step: 0 })
    void finished.log('grad', Number.NaN, { step: 1 })
    void finished.log('grad', 3, { step: 2 })
    void finished.logList('accuracy', [0.5, 0.6, 0.7, 0.8])
    for (let step = 0; step < 60; step++) void finished.log('notes', `note ${step}`, { step })
    void finished.log('phase', 1, { step: 0 })
    void finished.log('phase', 'warm-up done', { step: 1 })
    await finished.flush()
    await finished.complete()
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('draws a chart per numeric metric with its legend, counts non-finite values and lists text metrics', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${finished.id}?tab=metrics`)
    for (const metric of ['loss', 'grad', 'accuracy', 'phase'])
      await chart(page, metric).and(page.locator('[data-painted]')).waitFor()
    expect(await chart(page, 'notes').count()).toBe(0) // a text metric is a table, not a chart
    expect(await page.locator('.metric-chart canvas').count()).toBe(4)
    // Without a cursor the legend gives the last value; the spike is in the band's range.
    await expect(chart(page, 'loss').locator('.legend-value').textContent()).resolves.toBe(
      String(Number((2 / (1 + 399 / 40)).toPrecision(6))),
    )
    await expect(chart(page, 'loss').getAttribute('data-points')).resolves.toBe('400')
    await expect(chart(page, 'accuracy').locator('.legend-value').textContent()).resolves.toBe('0.8')
    await expect(chart(page, 'grad').locator('.chart-nonfinite').textContent()).resolves.toContain('1 non-finite')
    await page.getByText('also has text points').waitFor()
    // The list logged with logList is four consecutive points.
    await expect(chart(page, 'accuracy').getAttribute('data-points')).resolves.toBe('4')
    await studio.screenshot(page, 'run-metrics')
    expect(errors).toEqual([])
  })

  it('zooms by drag-select into the URL, reads the buckets of that range again, and resets on double-click', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${finished.id}?tab=metrics`)
    await chart(page, 'loss').and(page.locator('[data-painted]')).waitFor()
    const reread = page.waitForRequest(
      (r) => r.url().includes('/metrics/buckets') && r.url().includes('name=loss') && r.url().includes('fromStep='),
    )
    await dragAcross(page, 'loss', { from: 0.25, to: 0.75 })
    await page.waitForURL(/from=\d+&to=\d+/)
    const url = new URL(page.url())
    const from = Number(url.searchParams.get('from'))
    const to = Number(url.searchParams.get('to'))
    expect(from).toBeGreaterThan(50)
    expect(to).toBeLessThan(350)
    expect(new URL((await reread).url()).searchParams.get('fromStep')).toBe(String(from))
    // Every chart follows the zoom; the loss chart shows only the points of the range.
    await chart(page, 'loss')
      .and(page.locator(`[data-view="step:${from}-${to}"]`))
      .waitFor()
    await expect(chart(page, 'loss').getAttribute('data-points')).resolves.toBe(String(to - from + 1))
    await page.getByText(`Zoomed to steps ${from} – ${to}`).waitFor()
    // The zoom is a page of its own: Back leaves it, and a reload keeps it.
    await page.reload()
    await chart(page, 'loss')
      .and(page.locator(`[data-view="step:${from}-${to}"]`))
      .waitFor()
    await page.locator('.metric-chart[data-metric="loss"] .u-over').dblclick()
    await chart(page, 'loss').and(page.locator('[data-view="step:all"]')).waitFor()
    expect(new URL(page.url()).searchParams.has('from')).toBe(false)
    await expect(chart(page, 'loss').getAttribute('data-points')).resolves.toBe('400')
    // The same from the keyboard: a range typed in.
    await page.getByRole('spinbutton', { name: 'From step' }).fill('100')
    await page.getByRole('spinbutton', { name: 'to' }).fill('199')
    await page.getByRole('spinbutton', { name: 'to' }).press('Enter')
    await page.waitForURL(/from=100&to=199/)
    await chart(page, 'loss').and(page.locator('[data-view="step:100-199"]')).waitFor()
    await expect(chart(page, 'loss').getAttribute('data-points')).resolves.toBe('100')
    await page.getByRole('button', { name: 'Show all' }).click()
    await chart(page, 'loss').and(page.locator('[data-view="step:all"]')).waitFor()
    expect(errors).toEqual([])
  })

  it('switches the x axis to time, in the URL', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${finished.id}?tab=metrics`)
    await chart(page, 'loss').and(page.locator('[data-painted]')).waitFor()
    const timeRead = page.waitForRequest((r) => r.url().includes('/metrics/buckets') && r.url().includes('axis=time'))
    await page.getByRole('button', { name: 'Time' }).click()
    await timeRead
    await page.waitForURL(/axis=time/)
    await chart(page, 'loss').and(page.locator('[data-view="time:all"]')).waitFor()
    await expect(page.getByRole('button', { name: 'Time' }).getAttribute('aria-pressed')).resolves.toBe('true')
    await expect(chart(page, 'loss').getAttribute('data-points')).resolves.toBe('400')
    // A drag on the time axis zooms to a time range.
    await dragAcross(page, 'loss', { from: 0.1, to: 0.9 })
    await page.waitForURL(/axis=time.*from=\d+&to=\d+/)
    await page.getByText(/Zoomed to .* – /).waitFor()
    expect(errors).toEqual([])
  })

  it('shows a text metric as a paged table whose page is in the URL', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${finished.id}?tab=metrics`)
    const table = page.locator('section.text-metric', { has: page.getByRole('heading', { name: /^notes/ }) })
    await table.getByRole('cell', { name: 'note 0', exact: true }).waitFor()
    expect(await table.locator('tbody tr').count()).toBe(50)
    await table.getByRole('button', { name: 'Next page' }).click()
    await page.waitForURL(/text\.notes=/)
    await table.getByRole('cell', { name: 'note 59', exact: true }).waitFor()
    expect(await table.locator('tbody tr').count()).toBe(10)
    await expect(table.getByRole('button', { name: 'Next page' }).isDisabled()).resolves.toBe(true)
    await page.goBack()
    await table.getByRole('cell', { name: 'note 0', exact: true }).waitFor()
    // The mixed metric's points (numbers and texts) are listed too.
    const mixed = page.locator('section.text-metric', { has: page.getByRole('heading', { name: /^phase/ }) })
    await mixed.getByRole('cell', { name: 'warm-up done' }).waitFor()
    expect(errors).toEqual([])
  })

  it('updates a chart while the run logs, fetching only the new points', async () => {
    const live = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'live run' })
    try {
      for (let step = 0; step < 10; step++) void live.log('live_loss', 1 / (step + 1), { step })
      await live.flush()
      const { page, errors } = await studio.open(`/w/default/runs/${live.id}?tab=metrics`)
      await chart(page, 'live_loss').and(page.locator('[data-painted]')).waitFor()
      await expect(chart(page, 'live_loss').getAttribute('data-points')).resolves.toBe('10')
      const requests: string[] = []
      page.on('request', (r) => {
        if (r.url().includes('/metrics/')) requests.push(r.url())
      })
      for (let step = 10; step < 25; step++) void live.log('live_loss', 100 + step, { step })
      await live.flush()
      await chart(page, 'live_loss').and(page.locator('[data-points="25"]')).waitFor({ timeout: 15_000 })
      await expect(chart(page, 'live_loss').locator('.legend-value').textContent()).resolves.toBe('124')
      await expect(page.locator('.metric-last').textContent()).resolves.toBe('124')
      // The new points came from the step after the last one drawn; the buckets were not read again.
      const series = requests.filter((u) => u.includes('/metrics/series'))
      expect(series.length).toBeGreaterThan(0)
      expect(new URL(series[0]!).searchParams.get('fromStep')).toBe('10')
      expect(requests.filter((u) => u.includes('/metrics/buckets'))).toEqual([])
      expect(errors).toEqual([])
    } finally {
      await live.complete()
    }
  })

  it('draws every point of a run that ended while its chart was open', async () => {
    const run = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'ending run' })
    for (let step = 0; step < 10; step++) void run.log('end_loss', step, { step })
    await run.flush()
    const { page, errors } = await studio.open(`/w/default/runs/${run.id}?tab=metrics`)
    await chart(page, 'end_loss').and(page.locator('[data-points="10"]')).waitFor()
    // Logged and ended between two polls: the points arrive after the run is no longer live.
    for (let step = 10; step < 20; step++) void run.log('end_loss', step, { step })
    await run.flush()
    await run.complete()
    await page.locator('.metric-count', { hasText: /^20$/ }).waitFor({ timeout: 15_000 })
    await chart(page, 'end_loss').and(page.locator('[data-points="20"]')).waitFor({ timeout: 15_000 })
    await expect(chart(page, 'end_loss').locator('.legend-value').textContent()).resolves.toBe(
      await page.locator('.metric-last').textContent(),
    )
    expect(errors).toEqual([])
  })

  it('reads a zoomed view of a live run again as points land in it, and shows all of it once ended', async () => {
    const run = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'zoomed live run' })
    for (let step = 0; step < 10; step++) void run.log('zoom_loss', step, { step })
    await run.flush()
    const { page, errors } = await studio.open(`/w/default/runs/${run.id}?tab=metrics&from=0&to=100`)
    await chart(page, 'zoom_loss').and(page.locator('[data-view="step:0-100"][data-points="10"]')).waitFor()
    for (let step = 10; step < 20; step++) void run.log('zoom_loss', step, { step })
    await run.flush()
    await chart(page, 'zoom_loss').and(page.locator('[data-view="step:0-100"][data-points="20"]')).waitFor({ timeout: 15_000 })
    for (let step = 20; step < 30; step++) void run.log('zoom_loss', step, { step })
    await run.flush()
    await run.complete()
    await page.locator('.metric-count', { hasText: /^30$/ }).waitFor({ timeout: 15_000 })
    await page.getByRole('button', { name: 'Show all' }).click()
    await chart(page, 'zoom_loss').and(page.locator('[data-view="step:all"][data-points="30"]')).waitFor({ timeout: 15_000 })
    await expect(chart(page, 'zoom_loss').locator('.legend-value').textContent()).resolves.toBe('29')
    expect(errors).toEqual([])
  })

  it("pages a text table by the server's page token, so points sharing a step across a page end all show", async () => {
    const run = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'crowded notes' })
    for (let i = 0; i < 60; i++) void run.log('crowded', `early ${i}`, { step: 0 })
    for (let i = 0; i < 5; i++) void run.log('crowded', `late ${i}`, { step: 1 })
    await run.flush()
    await run.complete()
    const { page, errors } = await studio.open(`/w/default/runs/${run.id}?tab=metrics`)
    const table = page.locator('section.text-metric', { has: page.getByRole('heading', { name: /^crowded/ }) })
    await table.getByRole('cell', { name: 'early 0', exact: true }).waitFor()
    expect(await table.locator('tbody tr').count()).toBe(50)
    await table.getByRole('button', { name: 'Next page' }).click()
    await page.waitForURL(/text\.crowded=/)
    await table.getByRole('cell', { name: 'late 4', exact: true }).waitFor()
    await table.getByRole('cell', { name: 'early 59', exact: true }).waitFor()
    expect(await table.locator('tbody tr').count()).toBe(15)
    await expect(table.getByRole('button', { name: 'Next page' }).isDisabled()).resolves.toBe(true)
    // The token is in the URL: a reload keeps the page, Back returns to the first.
    await page.reload()
    await table.getByRole('cell', { name: 'early 50', exact: true }).waitFor()
    await page.goBack()
    await table.getByRole('cell', { name: 'early 0', exact: true }).waitFor()
    expect(await table.locator('tbody tr').count()).toBe(50)
    expect(errors).toEqual([])
  })

  it('lands a slow read of new points while the run keeps logging, one read at a time', async () => {
    const run = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'busy run' })
    let logging = true
    try {
      for (let step = 0; step < 10; step++) void run.log('busy_loss', step, { step })
      await run.flush()
      const { page, errors } = await studio.open(`/w/default/runs/${run.id}?tab=metrics`)
      await chart(page, 'busy_loss').and(page.locator('[data-points="10"]')).waitFor()
      // Each read of raw points takes longer than a poll, while every poll sees a new last step.
      let inFlight = 0
      let most = 0
      await page.route(/\/metrics\/series/, async (route) => {
        inFlight++
        most = Math.max(most, inFlight)
        await new Promise((resolve) => setTimeout(resolve, 3_000))
        inFlight--
        await route.continue().catch(() => undefined)
      })
      const logger = (async () => {
        for (let step = 10; logging && step < 200; step++) {
          void run.log('busy_loss', step, { step })
          await run.flush()
          await new Promise((resolve) => setTimeout(resolve, 300))
        }
      })()
      await page.locator('.metric-chart[data-metric="busy_loss"]:not([data-points="10"])').waitFor({ timeout: 12_000 })
      expect(logging).toBe(true) // landed while the run was still logging
      logging = false
      await logger
      expect(most).toBe(1)
      expect(errors).toEqual([])
    } finally {
      logging = false
      await run.complete()
    }
  })

  it('buckets again, without reading every raw point first, when far behind', async () => {
    const run = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'far behind run' })
    try {
      for (let step = 0; step < 10; step++) void run.log('far_loss', step, { step })
      await run.flush()
      const { page, errors } = await studio.open(`/w/default/runs/${run.id}?tab=metrics`)
      await chart(page, 'far_loss').and(page.locator('[data-points="10"]')).waitFor()
      const requests: string[] = []
      page.on('request', (r) => {
        if (r.url().includes('/metrics/') && r.url().includes('far_loss')) requests.push(r.url())
      })
      for (let step = 10; step < 5_000; step++) void run.log('far_loss', step, { step })
      await run.flush()
      await chart(page, 'far_loss').and(page.locator('[data-points="5000"]')).waitFor({ timeout: 15_000 })
      expect(requests.filter((u) => u.includes('/metrics/series'))).toEqual([])
      expect(requests.filter((u) => u.includes('/metrics/buckets')).length).toBeGreaterThan(0)
      expect(errors).toEqual([])
    } finally {
      await run.complete()
    }
  })

  it('says how to log a metric when a run has none', async () => {
    const empty = await workspace.experiment('e2e-metrics').startLogging({ displayName: 'empty run' })
    await empty.complete()
    const { page, errors } = await studio.open(`/w/default/runs/${empty.id}?tab=metrics`)
    await page.getByText('This run logged no metrics.').waitFor()
    await page.getByText("run.log('loss', 0.42)").waitFor()
    expect(errors).toEqual([])
  })

  it('is readable 390 pixels wide and in the dark', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${finished.id}?tab=metrics`, {
      viewport: PHONE,
      colorScheme: 'dark',
    })
    await chart(page, 'loss').and(page.locator('[data-painted]')).waitFor()
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    const canvas = await page.locator('.metric-chart[data-metric="loss"] canvas').boundingBox()
    expect(canvas?.width).toBeGreaterThan(200)
    expect((canvas?.x ?? 0) + (canvas?.width ?? 0)).toBeLessThanOrEqual(PHONE.width)
    await studio.screenshot(page, 'run-metrics-phone-dark')
    const desktop = await studio.open(`/w/default/runs/${finished.id}?tab=metrics`, { colorScheme: 'dark' })
    await chart(desktop.page, 'loss').and(desktop.page.locator('[data-painted]')).waitFor()
    await studio.screenshot(desktop.page, 'run-metrics-dark')
    expect([...errors, ...desktop.errors]).toEqual([])
  })
})
