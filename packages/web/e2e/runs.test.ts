import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Run, Workspace } from '@wharf/sdk'
import { newRunInput } from '@wharf/store/test-support'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

const NAME_LINKS = 'table.runs-table tbody tr[data-run-id] td.name-cell a'

/** The display names of the rows the runs table has in the DOM, top to bottom. */
function rowNames(page: Page): Promise<string[]> {
  return page.locator(NAME_LINKS).allInnerTexts()
}

/** Waits until the rows in the DOM are exactly `names`, in order (the table re-renders as data and URL change). */
async function expectRows(page: Page, names: string[]): Promise<void> {
  await expect.poll(() => rowNames(page), { timeout: 15_000 }).toEqual(names)
}

function searchOf(page: Page): URLSearchParams {
  return new URL(page.url()).searchParams
}

describe.skipIf(skip !== undefined)('the experiments page and the runs table', () => {
  let studio: Studio
  let workspace: Workspace
  const ids: Record<string, string> = {}

  /** A run logged through the SDK: its metrics stored, then ended as `end` says (or left running). */
  async function logRun(options: {
    experiment: string
    name: string
    tags?: Record<string, string>
    metrics?: Record<string, number>
    end?: 'complete' | 'fail' | 'running'
  }): Promise<Run> {
    const run = await workspace
      .experiment(options.experiment)
      .startLogging({ displayName: options.name, tags: options.tags ?? {}, outputs: false })
    for (const [name, value] of Object.entries(options.metrics ?? {})) run.log(name, value)
    await run.flush()
    if (options.end === 'fail') await run.fail({ error: new Error('diverged') })
    else if (options.end !== 'running') await run.complete()
    ids[options.name] = run.id
    return run
  }

  beforeAll(async () => {
    studio = await startStudio()
    workspace = studio.workspace
    await logRun({ experiment: 'vision', name: 'alpha', tags: { env: 'prod', lr: '0.1' }, metrics: { loss: 0.5, accuracy: 0.8 } })
    await logRun({ experiment: 'vision', name: 'beta', tags: { env: 'dev' }, metrics: { loss: 0.2, accuracy: 0.9 } })
    await logRun({ experiment: 'vision', name: 'gamma', tags: { env: 'prod' }, metrics: { loss: 0.9 }, end: 'fail' })
    await logRun({ experiment: 'vision', name: 'delta', tags: { env: 'prod', sweep: '' } })
    // A child run of alpha: the table lists top-level runs, with a way to the children.
    const child = await studio.client.createRun({
      experiment: 'vision',
      displayName: 'alpha-fold-1',
      parentRunId: ids.alpha!,
      status: 'Running',
    })
    await studio.client.setRunStatus(child.id, 'Completed')
    await logRun({ experiment: 'nlp', name: 'bert-small', metrics: { perplexity: 12.5 } })
    await studio.client.createWorkspace('empty')
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('lists the experiments with their latest run and filters them by name in the URL', async () => {
    const { page, errors } = await studio.open('/w/default/experiments')
    const table = page.locator('table.experiments-table')
    await table.getByRole('link', { name: 'vision' }).waitFor()
    await table.getByRole('link', { name: 'nlp' }).waitFor()
    // Each experiment's latest run, read once its row is on screen.
    await table.getByRole('row', { name: /nlp/ }).getByRole('link', { name: 'bert-small' }).waitFor()
    // The latest run of any kind: in vision, alpha's child run.
    await table
      .getByRole('row', { name: /vision/ })
      .getByRole('link', { name: 'alpha-fold-1' })
      .waitFor()
    await studio.screenshot(page, 'experiments')
    await page.getByRole('searchbox', { name: 'Filter' }).fill('vis')
    await page.waitForURL(/[?&]q=vis/)
    await table.getByRole('link', { name: 'nlp' }).waitFor({ state: 'detached' })
    expect(await table.getByRole('link', { name: 'vision' }).count()).toBe(1)
    // The filter comes back with the address.
    const again = await studio.open(new URL(page.url()).pathname + new URL(page.url()).search)
    await again.page.locator('table.experiments-table').getByRole('link', { name: 'vision' }).waitFor()
    expect(await again.page.getByRole('searchbox', { name: 'Filter' }).inputValue()).toBe('vis')
    expect(await again.page.locator('table.experiments-table').getByRole('link', { name: 'nlp' }).count()).toBe(0)
    // An experiment opens its runs table.
    await again.page.getByRole('link', { name: 'vision' }).first().click()
    await again.page.waitForURL('**/w/default/experiments/vision')
    await again.page.getByRole('heading', { name: 'vision' }).waitFor()
    expect([...errors, ...again.errors]).toEqual([])
  })

  it('tells a workspace without experiments how to log a first run', async () => {
    const { page, errors } = await studio.open('/w/empty/experiments')
    await page.getByText('No experiments in workspace "empty" yet.').waitFor()
    const help = await page.locator('.state-empty').innerText()
    expect(help).toContain("getLogger().log('loss', 0.3)")
    expect(help).toContain('npx wharf run submit')
    expect(help).toContain(`npx wharf workspace init --url ${studio.url} --workspace empty`)
    await studio.screenshot(page, 'experiments-empty')
    expect(errors).toEqual([])
  })

  it('shows status, start, duration, tags and a column per metric, and sorts by a metric column', async () => {
    const { page, errors } = await studio.open('/w/default/experiments/vision')
    const table = page.locator('table.runs-table')
    await table.waitFor()
    // Newest first by default; the child run is not among the top-level runs.
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    const headers = await table.locator('thead th').allInnerTexts()
    expect(headers.map((h) => h.replace(/[▲▼↕]/g, '').trim())).toEqual([
      'Select',
      'Status',
      'Name',
      'Start',
      'Duration',
      'Tags',
      'accuracy',
      'loss',
    ])
    const gamma = table.locator(`tr[data-run-id="${ids.gamma}"]`)
    expect(await gamma.locator('[data-status]').getAttribute('data-status')).toBe('Failed')
    expect(await gamma.innerText()).toContain('0.9')
    expect(await table.locator(`tr[data-run-id="${ids.alpha}"]`).innerText()).toMatch(
      /env=prod[\s\S]*lr=0\.1[\s\S]*0\.8[\s\S]*0\.5/,
    )
    expect(
      await table.locator(`tr[data-run-id="${ids.delta}"]`).getByRole('button', { name: 'Filter by tag sweep' }).count(),
    ).toBe(1)
    expect(await page.getByTestId('runs-count').innerText()).toContain('4 of 5 runs shown')
    await studio.screenshot(page, 'runs-table')

    const lossHeader = table.locator('thead th', { hasText: 'loss' })
    expect(await lossHeader.getAttribute('aria-sort')).toBe('none')
    expect(await table.locator('thead th', { hasText: 'Start' }).getAttribute('aria-sort')).toBe('descending')
    await lossHeader.getByRole('button').click()
    // Largest first; runs without the metric last, whichever the order.
    await expectRows(page, ['gamma', 'alpha', 'beta', 'delta'])
    expect(await lossHeader.getAttribute('aria-sort')).toBe('descending')
    expect(searchOf(page).get('sort')).toBe('metric:loss')
    await lossHeader.getByRole('button').click()
    await expectRows(page, ['beta', 'alpha', 'gamma', 'delta'])
    expect(await lossHeader.getAttribute('aria-sort')).toBe('ascending')
    expect(searchOf(page).get('order')).toBe('asc')
    // Sorting by name from the keyboard.
    await table.getByRole('button', { name: 'Name' }).focus()
    await page.keyboard.press('Enter')
    await expectRows(page, ['alpha', 'beta', 'delta', 'gamma'])
    // Back undoes the sort, as it undoes any view change.
    await page.goBack()
    await expectRows(page, ['beta', 'alpha', 'gamma', 'delta'])
    expect(errors).toEqual([])
  })

  it('filters by status, tag and text in the URL; the URL brings the view back; Back steps out of it', async () => {
    const { page, errors } = await studio.open('/w/default/experiments/vision')
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])

    await page.locator('.status-filter summary').click()
    await page.getByRole('checkbox', { name: /^Completed/ }).click()
    await page.waitForURL(/status=Completed/)
    await expectRows(page, ['delta', 'beta', 'alpha'])
    await page.getByRole('checkbox', { name: /^Failed/ }).click()
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    expect(searchOf(page).getAll('status')).toEqual(['Completed', 'Failed'])
    await page.getByRole('checkbox', { name: /^Completed/ }).click()
    await expectRows(page, ['gamma'])
    await page.getByRole('checkbox', { name: /^Failed/ }).click()
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    // Escape closes the status list.
    await page.keyboard.press('Escape')
    await page.getByRole('checkbox', { name: /^Failed/ }).waitFor({ state: 'hidden' })

    // A tag filter is `key` (the tag is set) or `key=value`, as the API's `tag` query reads it.
    await page.getByRole('textbox', { name: 'Tag' }).fill('env=prod')
    await page.getByRole('button', { name: 'Add tag filter' }).click()
    await expectRows(page, ['delta', 'gamma', 'alpha'])
    await page.getByRole('textbox', { name: 'Tag' }).fill('lr')
    await page.keyboard.press('Enter')
    await expectRows(page, ['alpha'])
    expect(searchOf(page).getAll('tag')).toEqual(['env=prod', 'lr'])
    await page.getByRole('button', { name: /^tag lr/ }).click()
    await expectRows(page, ['delta', 'gamma', 'alpha'])
    // A tag in a row adds itself as a filter.
    await page.locator(`tr[data-run-id="${ids.delta}"]`).getByRole('button', { name: 'Filter by tag sweep' }).click()
    await expectRows(page, ['delta'])
    await page.getByRole('button', { name: /^tag sweep/ }).click()

    // Free text matches names, ids and tags.
    await page.getByRole('searchbox', { name: 'Search' }).fill('GAMMA')
    await expectRows(page, ['gamma'])
    await page.getByRole('searchbox', { name: 'Search' }).fill('')
    await page.getByRole('searchbox', { name: 'Search' }).fill(ids.alpha!)
    await expectRows(page, ['alpha'])
    await page.getByRole('searchbox', { name: 'Search' }).fill('prod')
    await expectRows(page, ['delta', 'gamma', 'alpha'])
    await page.locator('.status-filter summary').click()
    await page.getByRole('checkbox', { name: /^Completed/ }).click()
    await page.locator('.status-filter summary').click()
    await expectRows(page, ['delta', 'alpha'])
    const params = searchOf(page)
    expect(params.get('q')).toBe('prod')
    expect(params.getAll('tag')).toEqual(['env=prod'])
    expect(params.getAll('status')).toEqual(['Completed'])

    // The same address in a new tab shows the same view, filters filled in.
    const url = new URL(page.url())
    const shared = await studio.open(url.pathname + url.search)
    await expectRows(shared.page, ['delta', 'alpha'])
    expect(await shared.page.getByRole('searchbox', { name: 'Search' }).inputValue()).toBe('prod')
    expect(await shared.page.getByRole('button', { name: /^tag env=prod/ }).count()).toBe(1)
    await shared.page.locator('.status-filter summary').click()
    expect(await shared.page.getByRole('checkbox', { name: /^Completed/ }).isChecked()).toBe(true)
    expect(await shared.page.getByRole('checkbox', { name: /^Failed/ }).isChecked()).toBe(false)

    // Into a run and Back: the same view.
    await shared.page.getByRole('link', { name: 'alpha', exact: true }).click()
    await shared.page.waitForURL(`**/w/default/runs/${ids.alpha}`)
    await shared.page.goBack()
    await shared.page.waitForURL((u) => u.search === url.search)
    await expectRows(shared.page, ['delta', 'alpha'])
    // In the first tab, Back undoes the last filter step (the status).
    await page.goBack()
    await page.waitForURL((u) => !u.searchParams.has('status'))
    expect(searchOf(page).get('q')).toBe('prod')
    await expectRows(page, ['delta', 'gamma', 'alpha'])

    // Clearing the filters; a filter no run passes says so.
    await page.getByRole('searchbox', { name: 'Search' }).fill('no such run')
    await page.getByText('No run matches these filters.').waitFor()
    await page.getByRole('button', { name: 'Clear filters' }).first().click()
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    expect([...errors, ...shared.errors]).toEqual([])
  })

  it('says when an experiment has no runs yet, and when there is no such experiment', async () => {
    await studio.client.createExperiment('fresh')
    const { page, errors } = await studio.open('/w/default/experiments/fresh')
    await page.getByText('Experiment "fresh" has no runs yet.').waitFor()
    expect(await page.locator('.state-empty').innerText()).toContain('WHARF_EXPERIMENT=fresh')
    expect(errors).toEqual([])
    const missing = await studio.open('/w/default/experiments/no-such-experiment')
    const alert = missing.page.getByRole('alert')
    await alert.getByText('Could not load experiment "no-such-experiment".').waitFor()
    expect(await alert.innerText()).toContain('EXPERIMENT_NOT_FOUND')
    await alert.getByRole('button', { name: 'Retry' }).waitFor()
    // The only console error is the browser's note of the 404 itself.
    expect(missing.errors.filter((error) => !error.includes('404'))).toEqual([])
  })

  it('shows child runs of a run on demand, and every run with its children', async () => {
    const { page, errors } = await studio.open('/w/default/experiments/vision')
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    await page.getByRole('button', { name: 'Show the child run of alpha' }).click()
    await expectRows(page, ['alpha-fold-1'])
    expect(searchOf(page).get('parent')).toBe(ids.alpha)
    await page.getByRole('button', { name: /Child runs of alpha/ }).click()
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    await page.getByRole('combobox', { name: 'Runs' }).selectOption('all')
    await expectRows(page, ['alpha-fold-1', 'delta', 'gamma', 'beta', 'alpha'])
    expect(searchOf(page).get('children')).toBe('all')
    expect(errors).toEqual([])
  })

  it('turns a running run Completed without a reload', async () => {
    const run = await logRun({ experiment: 'live', name: 'streaming', metrics: { loss: 1 }, end: 'running' })
    const { page, errors } = await studio.open('/w/default/experiments/live')
    const row = page.locator(`tr[data-run-id="${run.id}"]`)
    await row.locator('[data-status="Running"]').waitFor()
    await page.getByText('following live runs').waitFor()
    // A new point shows as the metric's last value, then the run ends: both without reloading.
    await run.log('loss', 0.25)
    await row.getByText('0.25').waitFor({ timeout: 15_000 })
    await run.complete()
    await row.locator('[data-status="Completed"]').waitFor({ timeout: 15_000 })
    await page.getByText('following live runs').waitFor({ state: 'detached' })
    expect(errors).toEqual([])
  })

  it('selects runs with their boxes and opens the comparison of two', async () => {
    const { page, errors } = await studio.open('/w/default/experiments/vision')
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    const compare = page.getByRole('button', { name: /^Compare/ })
    expect(await compare.isDisabled()).toBe(true)
    await page.getByRole('checkbox', { name: 'Select alpha to compare' }).click()
    await page.getByRole('button', { name: 'Compare (1)' }).waitFor()
    expect(await compare.isDisabled()).toBe(true)
    // From the keyboard: focus the box, Space ticks it.
    await page.getByRole('checkbox', { name: 'Select beta to compare' }).focus()
    await page.keyboard.press('Space')
    await page.getByRole('button', { name: 'Compare (2)' }).waitFor()
    expect(await compare.isEnabled()).toBe(true)
    expect(searchOf(page).getAll('select')).toEqual([ids.alpha, ids.beta])
    // The selection survives a reload (it is in the URL).
    await page.reload()
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    expect(await page.getByRole('checkbox', { name: 'Select beta to compare' }).isChecked()).toBe(true)
    await page.getByRole('button', { name: 'Compare (2)' }).click()
    await page.waitForURL('**/w/default/compare?**')
    expect(searchOf(page).getAll('run')).toEqual([ids.alpha, ids.beta])
    expect(errors).toEqual([])
  })

  it('is readable 390 pixels wide in the dark: the table scrolls inside its box, not the page', async () => {
    const { page, errors } = await studio.open('/w/default/experiments/vision', { viewport: PHONE, colorScheme: 'dark' })
    await expectRows(page, ['delta', 'gamma', 'beta', 'alpha'])
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    expect(await page.evaluate("(b => b.scrollWidth > b.clientWidth)(document.querySelector('.runs-table-scroll'))")).toBe(true)
    await studio.screenshot(page, 'runs-table-phone')
    expect(errors).toEqual([])
  })

  it(
    'keeps 10,000 runs virtualised: few rows in the DOM, and the last one reached by scrolling',
    { timeout: 240_000 },
    async () => {
      // A sweep of 10,000 queued runs, made in the server's own store (the one the API reads): 10,000 HTTP
      // round trips would take most of a minute on a shared two-core machine, and the table is under test.
      const store = studio.server.server.store
      const total = 10_000
      const base = Date.parse('2026-01-01T00:00:00Z')
      for (let i = 0; i < total; i++) {
        const n = String(i).padStart(5, '0')
        await store.createRun(
          newRunInput({
            workspace: 'default',
            experiment: 'bulk',
            id: `bulk-run-${n}`,
            createdAt: new Date(base + i * 1000).toISOString(),
            status: 'Queued',
            displayName: `bulk-${n}`,
            tags: { shard: String(i % 8) },
          }),
        )
      }
      const { page, errors } = await studio.open('/w/default/experiments/bulk?sort=name&order=asc')
      await page.getByTestId('runs-count').getByText('10,000 of 10,000 runs shown').waitFor({ timeout: 60_000 })
      await page.locator('table.runs-table').getByRole('link', { name: 'bulk-00000' }).waitFor()
      const first = await rowNames(page)
      expect(first[0]).toBe('bulk-00000')
      expect(first.length).toBeGreaterThan(5)
      expect(first.length).toBeLessThan(100)
      await page.evaluate("document.querySelector('.runs-table-scroll').scrollTo({ top: 1e9 })")
      await page.locator('table.runs-table').getByRole('link', { name: 'bulk-09999' }).waitFor()
      const last = await rowNames(page)
      expect(last.length).toBeLessThan(100)
      expect(last[last.length - 1]).toBe('bulk-09999')
      await studio.screenshot(page, 'runs-table-10k')
      expect(await page.locator('table.runs-table').getAttribute('aria-rowcount')).toBe(String(total + 1))
      // Into the last run and Back: the table is where it was, without waiting for 10,000 runs again.
      await page.locator('table.runs-table').getByRole('link', { name: 'bulk-09999' }).click()
      await page.waitForURL('**/w/default/runs/bulk-run-09999')
      await page.goBack()
      await page.locator('table.runs-table').getByRole('link', { name: 'bulk-09999' }).waitFor()
      expect((await rowNames(page)).at(-1)).toBe('bulk-09999')
      // Filtering 10,000 runs by a tag keeps the table whole and virtualised.
      await page.getByRole('textbox', { name: 'Tag' }).fill('shard=3')
      await page.keyboard.press('Enter')
      await page.getByTestId('runs-count').getByText('1,250 of 10,000 runs shown').waitFor()
      expect(errors).toEqual([])
    },
  )
})
