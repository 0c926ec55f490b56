import { existsSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH, DESKTOP, STUDIO_DIR } from '../packages/web/e2e/harness.js'
import { compared, median, startServerProcess, tempDir, type Bench, type BenchResult } from './harness.js'
import {
  createRun,
  getJson,
  ingestSeries,
  jitteredClock,
  lossCurve,
  ms,
  percentile,
  seededRandom,
  type SeriesSpec,
} from './metrics-support.js'

const METRICS = 10
const POINTS = Number(process.env.WHARF_BENCH_STUDIO_POINTS ?? 1_000_000)
/** Page opens timed (the first, on a server that has read nothing yet, is reported apart as cold). */
const OPENS = Number(process.env.WHARF_BENCH_STUDIO_OPENS ?? 5)
const ZOOMS = 20
/** Live rounds: each logs LIVE_POINTS more points of every metric while the page is open. */
const LIVE_ROUNDS = 5
const LIVE_POINTS = 100
/** The server's `pointsPerBatch` limit, shared by the metrics of a batch. */
const BATCH = 10_000
const TARGETS = { firstChartMs: 1000, zoomRedrawMs: 100 }

/** The performance entries the charts leave (packages/web/src/charts/marks.ts). */
const MARKS = { painted: 'wharf:chart-painted', zoomRedraw: 'wharf:zoom-redraw', liveAppend: 'wharf:live-append' }

function seriesOf(): SeriesSpec[] {
  return Array.from({ length: METRICS }, (_, i) => ({
    name: `metric_${i}`,
    valueAt: lossCurve({ points: POINTS, seed: 100 + i }),
    timeAt: jitteredClock({ start: Date.UTC(2026, 0, 1), intervalMs: 100, seed: 200 + i }),
  }))
}

/** Entries of a name as {start, duration, detail}, read in the page (performance.* is the page's). */
async function entries(
  page: Page,
  name: string,
): Promise<{ start: number; duration: number; detail: Record<string, unknown> }[]> {
  const json = await page.evaluate(
    `JSON.stringify(performance.getEntriesByName(${JSON.stringify(name)}).map((e) => ({ start: e.startTime, duration: e.duration, detail: e.detail ?? {} })))`,
  )
  return JSON.parse(String(json)) as { start: number; duration: number; detail: Record<string, unknown> }[]
}

async function waitForCount(options: { page: Page; name: string; count: number }): Promise<void> {
  const { page, name, count } = options
  // A function, not a string: the studio's content security policy refuses evaluating strings.
  await page.waitForFunction(
    (wanted) => performance.getEntriesByName(wanted.name).length >= wanted.count,
    { name, count },
    {
      timeout: 60_000,
      polling: 5,
    },
  )
}

/** Opens the run's Metrics tab and answers when the first and the last of the charts painted (ms after navigation). */
async function openRun(options: {
  browser: Browser
  url: string
}): Promise<{ page: Page; first: number; all: number; close: () => Promise<void> }> {
  const context = await options.browser.newContext({ viewport: DESKTOP })
  const page = await context.newPage()
  await page.addInitScript('performance.setResourceTimingBufferSize(100000)')
  await page.goto(options.url)
  await waitForCount({ page, name: MARKS.painted, count: METRICS })
  const painted = await entries(page, MARKS.painted)
  const starts = painted.map((e) => e.start)
  return { page, first: Math.min(...starts), all: Math.max(...starts), close: () => context.close() }
}

/** Drags across the first chart between two fractions of its width (a user's zoom), or double-clicks it (reset). */
async function zoomFirstChart(page: Page, span: { from: number; to: number } | 'reset'): Promise<void> {
  const box = await page.locator('.metric-chart[data-metric="metric_0"] .u-over').boundingBox()
  if (box === null) throw new Error('the first chart has no plot area on screen')
  const y = box.y + box.height / 2
  if (span === 'reset') {
    await page.mouse.dblclick(box.x + box.width / 2, y)
    return
  }
  await page.mouse.move(box.x + box.width * span.from, y)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * span.to, y, { steps: 4 })
  await page.mouse.up()
}

/** Bytes (encoded body) of the resources whose URL contains `part`, and how many there were. */
async function resourceBytes(page: Page, part: string): Promise<{ count: number; bytes: number }> {
  const json = await page.evaluate(
    `JSON.stringify(performance.getEntriesByType('resource').filter((e) => e.name.includes(${JSON.stringify(part)})).map((e) => e.encodedBodySize))`,
  )
  const sizes = JSON.parse(String(json)) as number[]
  return { count: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0) }
}

/** The zoom and reset redraw times on an open page: the chart dragged on, and all ten charts. */
async function zoomFigures(page: Page): Promise<{ origin: number[]; all: number[]; reset: number[] }> {
  const random = seededRandom(31)
  const origin: number[] = []
  const all: number[] = []
  const reset: number[] = []
  for (let z = 0; z < ZOOMS; z++) {
    const from = 0.05 + random() * 0.55
    const to = from + 0.05 + random() * 0.3
    for (const action of [{ from, to }, 'reset'] as const) {
      const before = (await entries(page, MARKS.zoomRedraw)).length
      await zoomFirstChart(page, action)
      await waitForCount({ page, name: MARKS.zoomRedraw, count: before + METRICS })
      const measures = (await entries(page, MARKS.zoomRedraw)).slice(before)
      if (action === 'reset') {
        reset.push(Math.max(...measures.map((m) => m.duration)))
        continue
      }
      const own = measures.find((m) => m.detail.origin === true) ?? measures[0]!
      origin.push(own.duration)
      all.push(Math.max(...measures.map((m) => m.duration)))
    }
  }
  return { origin, all, reset }
}

/** Logs more points while the page is open and times what the page does with them. */
async function liveFigures(options: { page: Page; url: string; runId: string; series: SeriesSpec[] }) {
  const { page, url, runId, series } = options
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const bucketsBefore = await resourceBytes(page, '/metrics/buckets')
  const seriesBefore = await resourceBytes(page, '/metrics/series')
  const shown: number[] = []
  try {
    for (let round = 1; round <= LIVE_ROUNDS; round++) {
      const expected = POINTS + round * LIVE_POINTS
      await ingestSeries({ url, runId, series, points: LIVE_POINTS, perBatch: LIVE_POINTS, agent })
      const logged = performance.now()
      // The last of the ten charts showing every point logged so far.
      await page
        .locator(`.metric-chart[data-points="${expected}"]`)
        .nth(METRICS - 1)
        .waitFor({ timeout: 30_000 })
      shown.push(performance.now() - logged)
    }
  } finally {
    agent.destroy()
  }
  const appends = (await entries(page, MARKS.liveAppend)).map((e) => e.duration)
  const bucketsAfter = await resourceBytes(page, '/metrics/buckets')
  const seriesAfter = await resourceBytes(page, '/metrics/series')
  const fullRead = await getJson<unknown>(
    new http.Agent(),
    `${url}/api/v1/workspaces/default/runs/${runId}/metrics/buckets?name=metric_0&buckets=600`,
  )
  return {
    appends,
    shown,
    bucketReads: bucketsAfter.count - bucketsBefore.count,
    seriesReads: seriesAfter.count - seriesBefore.count,
    seriesBytesPerRound: (seriesAfter.bytes - seriesBefore.bytes) / LIVE_ROUNDS,
    bucketAnswerBytes: JSON.stringify(fullRead.body).length,
  }
}

async function studioFigures(url: string): Promise<BenchResult[]> {
  const runId = await createRun(url, { experiment: 'bench-studio', displayName: `${METRICS} metrics x ${POINTS} points` })
  const series = seriesOf()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const started = performance.now()
  try {
    await ingestSeries({ url, runId, series, points: POINTS, perBatch: BATCH / METRICS, agent })
  } finally {
    agent.destroy()
  }
  const ingestSeconds = (performance.now() - started) / 1000
  const summaries = await getJson<{ items: { name: string; count: number }[] }>(
    new http.Agent(),
    `${url}/api/v1/workspaces/default/runs/${runId}/metrics`,
  )
  for (const { name } of series) {
    const count = summaries.body.items.find((m) => m.name === name)?.count
    if (count !== POINTS) throw new Error(`metric ${name} holds ${count} points, expected ${POINTS}`)
  }

  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true })
  try {
    const pageUrl = `${url}/w/default/runs/${runId}?tab=metrics`
    const cold = await openRun({ browser, url: pageUrl })
    await cold.close()
    const firsts: number[] = []
    const alls: number[] = []
    for (let i = 0; i < OPENS; i++) {
      const open = await openRun({ browser, url: pageUrl })
      firsts.push(open.first)
      alls.push(open.all)
      await open.close()
    }
    const open = await openRun({ browser, url: pageUrl })
    const zooms = await zoomFigures(open.page)
    const live = await liveFigures({ page: open.page, url, runId, series })
    await open.close()

    const data = {
      metrics: METRICS,
      pointsPerMetric: POINTS,
      ingestSeconds: Math.round(ingestSeconds),
      viewport: `${DESKTOP.width}x${DESKTOP.height}`,
    }
    const spread = (values: number[]) => ({
      p50: ms(percentile(values, 50)),
      max: ms(Math.max(...values)),
      samples: values.length,
    })
    return [
      compared({
        bench: 'studio.first-chart',
        unit: 'ms median',
        value: median(firsts),
        baseline: { name: `target ${TARGETS.firstChartMs} ms`, value: TARGETS.firstChartMs },
        extra: { ...spread(firsts), coldMs: ms(cold.first), ...data },
      }),
      compared({
        bench: 'studio.all-charts',
        unit: 'ms median',
        value: median(alls),
        baseline: { name: 'first chart', value: median(firsts) },
        extra: { ...spread(alls), coldMs: ms(cold.all), ...data },
      }),
      compared({
        bench: 'studio.zoom-redraw',
        unit: 'ms p50',
        value: percentile(zooms.origin, 50),
        baseline: { name: `target ${TARGETS.zoomRedrawMs} ms`, value: TARGETS.zoomRedrawMs },
        extra: {
          ...spread(zooms.origin),
          allChartsP50: ms(percentile(zooms.all, 50)),
          allChartsMax: ms(Math.max(...zooms.all)),
          resetP50: ms(percentile(zooms.reset, 50)),
          resetMax: ms(Math.max(...zooms.reset)),
          measured: "drag-select on the first chart to its redraw with the new range's buckets (all charts: the last of the ten)",
          ...data,
        },
      }),
      compared({
        bench: 'studio.live-append',
        unit: 'ms p50',
        value: percentile(live.appends, 50),
        baseline: { name: 'zoom redraw', value: percentile(zooms.origin, 50) },
        extra: {
          ...spread(live.appends),
          pointsPerRound: LIVE_POINTS,
          rounds: LIVE_ROUNDS,
          shownAfterLoggedP50: ms(median(live.shown)),
          shownAfterLoggedMax: ms(Math.max(...live.shown)),
          seriesReads: live.seriesReads,
          seriesBytesPerRound: Math.round(live.seriesBytesPerRound),
          bucketReadsDuringLive: live.bucketReads,
          oneBucketAnswerBytes: live.bucketAnswerBytes,
          measured:
            'per chart: reading the new points (fromStep = last known + 1) to drawing them; shown-after-logged includes the 2 s poll',
          ...data,
        },
      }),
    ]
  } finally {
    await browser.close()
  }
}

/** The studio's run page on a run of ten metrics of a million points each, in headless Chromium. */
export const studioBench: Bench = {
  name: 'studio',
  description: `studio Metrics tab on SQLite: ${METRICS} metrics x ${POINTS} points; first/all charts painted (${OPENS} opens), ${ZOOMS} zoom redraws, live appends; headless Chromium`,
  async run() {
    if (!existsSync(CHROMIUM_PATH) || !existsSync(path.join(STUDIO_DIR, 'index.html'))) {
      process.stdout.write(
        `skipped: studio: needs Chromium at ${CHROMIUM_PATH} and a studio build in ${STUDIO_DIR} (npm run build)\n`,
      )
      return []
    }
    const tmp = await tempDir('studio')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    try {
      return await studioFigures(server.url)
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}
