// The run page end to end: runs submitted with the real `wharf run submit` to a real server serving the
// studio, looked at in Debian's Chromium: overview, a failed run's error, artifacts with previews,
// download and promote, a live log tail, and cancel.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isTerminalStatus, type Run } from '@wharf/contract'
import type { Locator } from 'playwright-core'
import { runWharf } from '@wharf/cli/test-support'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

/** A 2×2 red PNG. */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=='
const CSV = 'name,comment,score\n"Smith, J.","said ""hi""\nthen left",3\nDoe,plain,4\n'
const METRICS = { loss: 0.25, epochs: [1, 2, 3] }
const NOTES = 'first line of the notes\nsecond line\n'

// Reads its input, writes outputs of every preview kind, and a model folder uploaded as an output too.
const TRAIN = `import { mkdir, readFile, writeFile } from 'node:fs/promises'
const data = process.env.WHARF_DATAREFERENCE_DATA
console.log('input says: ' + (await readFile(data + '/greeting.txt', 'utf8')).trim())
await mkdir('outputs/model', { recursive: true })
await writeFile('outputs/notes.txt', ${JSON.stringify(NOTES)})
await writeFile('outputs/metrics.json', ${JSON.stringify(JSON.stringify(METRICS))})
await writeFile('outputs/table.csv', ${JSON.stringify(CSV)})
await writeFile('outputs/plot.png', Buffer.from('${PNG_BASE64}', 'base64'))
await writeFile('outputs/big.txt', 'x'.repeat(300 * 1024))
await writeFile('outputs/model/weights.bin', Buffer.alloc(64, 7))
await writeFile('outputs/model/config.json', '{"layers":2}')
console.log('training done')
`
const FAIL = `console.log('working')
console.error('ValueError: the labels do not match')
process.exit(3)
`
// Prints a numbered line every 300 ms until stopped.
const LONG = `let i = 0
console.log('started')
setInterval(() => console.log('tick ' + ++i), 300)
`

describe.skipIf(skip !== undefined)('the run page', () => {
  let studio: Studio
  let dir: string
  let project: string
  let env: Record<string, string>
  let trainId: string
  let failId: string
  const started: string[] = []

  const wharf = (args: string[]) => runWharf(args, { env, cwd: project })

  /** Submits long.mjs detached and waits until the script is running; returns the run id. */
  async function submitLong(experiment: string): Promise<string> {
    const submitted = await wharf(['run', 'submit', '--script', 'long.mjs', '--experiment', experiment, '--detach'])
    expect(submitted.code, submitted.stderr).toBe(0)
    const runId = submitted.stdout.trim()
    started.push(runId)
    await waitFor(async () => (await studio.client.getRun(runId)).status === 'Running', `run ${runId} Running`)
    return runId
  }

  beforeAll(async () => {
    studio = await startStudio()
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-web-run-'))
    project = path.join(dir, 'digits')
    await mkdir(project, { recursive: true })
    await writeFile(path.join(project, 'train.mjs'), TRAIN)
    await writeFile(path.join(project, 'fail.mjs'), FAIL)
    await writeFile(path.join(project, 'long.mjs'), LONG)
    env = { WHARF_TRACKING_URI: studio.url, WHARF_WORKSPACE: 'default', WHARF_HOME: path.join(dir, 'home'), COLUMNS: '' }
    await studio.client.uploadDatastoreFile('workspaceblobstore', { path: 'inputs/greeting.txt', body: 'hello\n' })

    const train = await wharf([
      'run',
      'submit',
      '--script',
      'train.mjs',
      '--experiment',
      'studio-run',
      '--name',
      'train digits',
      '--tag',
      'team=vision',
      '--input',
      'DATA=workspaceblobstore:inputs:download',
      '--output',
      'workspaceblobstore:results/{runId}=outputs/model',
    ])
    expect(train.code, train.stderr).toBe(0)
    trainId = /run (\S+) Completed in/.exec(train.stderr)?.[1] ?? ''
    expect(trainId, train.stderr).not.toBe('')

    const fail = await wharf(['run', 'submit', '--script', 'fail.mjs', '--experiment', 'studio-run'])
    expect(fail.code, fail.stderr).toBe(7)
    failId = /run (\S+) Failed in/.exec(fail.stderr)?.[1] ?? ''
    expect(failId, fail.stderr).not.toBe('')
  })

  afterAll(async () => {
    // Runs a failed test left going are stopped before the server goes.
    for (const runId of started) {
      await studio.client.call('cancelRun', { params: { runId } }).catch(() => undefined)
      await waitFor(async () => isTerminalStatus((await studio.client.getRun(runId)).status), `run ${runId} ended`).catch(
        () => undefined,
      )
    }
    await studio?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('shows a submitted run: status and times, command, tags, inputs and outputs, and its source snapshot', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${trainId}`)
    await page.getByRole('heading', { level: 1, name: /train digits/ }).waitFor()
    await expect(page.locator('header .badge').textContent()).resolves.toBe('Completed')
    // No cancel for a finished run.
    expect(await page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0)
    for (const status of ['Queued', 'Preparing', 'Running', 'Finalizing', 'Completed'])
      expect(await page.locator(`.run-timeline li[data-status="${status}"]`).count(), status).toBe(1)
    await expect(page.locator('.run-command').textContent()).resolves.toContain('train.mjs')
    const inputs = page.locator('table', { has: page.getByRole('columnheader', { name: 'Path on datastore' }) }).first()
    await expect(rowTexts(inputs)).resolves.toEqual([
      ['DATA', 'workspaceblobstore', 'inputs', 'download', expect.any(String), '—'],
    ])
    const outputs = page.locator('table', { has: page.getByRole('columnheader', { name: 'Path on datastore' }) }).nth(1)
    const [output] = await rowTexts(outputs)
    expect(output?.slice(1, 5)).toEqual(['workspaceblobstore', `results/${trainId}`, 'upload', 'outputs/model'])
    await expect(page.getByRole('row', { name: /team\s*vision/ }).count()).resolves.toBe(1)
    await expect(page.getByTestId('heartbeat').textContent()).resolves.not.toContain('no runner')
    await studio.screenshot(page, 'run-overview')

    // The snapshot's files, each downloadable; the panel is in the URL.
    await page.getByRole('button', { name: 'Source snapshot' }).click()
    await page.waitForURL(/snapshot=1/)
    const downloadTrain = page.getByRole('link', { name: 'Download train.mjs' })
    const [download] = await Promise.all([page.waitForEvent('download'), downloadTrain.click()])
    expect(download.suggestedFilename()).toBe('train.mjs')
    await expect(readFile(await download.path(), 'utf8')).resolves.toBe(TRAIN)
    expect(errors).toEqual([])

    // Readable 390 pixels wide: nothing pushes the page sideways.
    const phone = await studio.open(`/w/default/runs/${trainId}`, { viewport: PHONE, colorScheme: 'dark' })
    await phone.page.getByRole('heading', { name: 'Inputs and outputs' }).waitFor()
    const overflow = await phone.page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await studio.screenshot(phone.page, 'run-overview-phone-dark')
    expect(phone.errors).toEqual([])
  })

  it("puts a failed run's error first: its message with the script's stderr", async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${failId}`)
    const card = page.locator('.run-error-card[role="alert"]')
    await card.waitFor()
    await expect(card.getByRole('heading').textContent()).resolves.toContain('This run failed')
    const message = await card.locator('.run-error-message').textContent()
    expect(message).toContain('exited with code 3')
    expect(message).toContain('ValueError: the labels do not match')
    await expect(page.locator('header .badge').textContent()).resolves.toBe('Failed')
    await studio.screenshot(page, 'run-failed')
    expect(errors).toEqual([])
  })

  it('lists artifacts as a tree and previews text, JSON, CSV and images, with downloads; the selection is in the URL', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${trainId}?tab=artifacts`)
    const tree = page.getByRole('navigation', { name: 'Artifact files' })
    await tree.getByRole('button', { name: 'outputs/', exact: true }).waitFor()

    // CSV: a real parse (a quoted comma, a doubled quote, a line break inside quotes) into a table.
    await tree.getByRole('button', { name: /^table\.csv/ }).click()
    await page.waitForURL(/path=outputs%2Ftable\.csv/)
    const csv = page.locator('.csv-preview table')
    await csv.waitFor()
    await expect(csv.locator('th').allTextContents()).resolves.toEqual(['name', 'comment', 'score'])
    await expect(rowTexts(csv)).resolves.toEqual([
      ['Smith, J.', 'said "hi"\nthen left', '3'],
      ['Doe', 'plain', '4'],
    ])
    await expect(page.locator('.artifact-preview dd.mono.run-break').textContent()).resolves.toMatch(/^[0-9a-f]{64}$/)
    await studio.screenshot(page, 'run-artifacts')

    // Text, with its download.
    await tree.getByRole('button', { name: /^notes\.txt/ }).click()
    await expect(page.locator('.preview-text').textContent()).resolves.toBe(NOTES)
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.artifact-preview').getByRole('link', { name: 'Download' }).click(),
    ])
    expect(download.suggestedFilename()).toBe('notes.txt')
    await expect(readFile(await download.path(), 'utf8')).resolves.toBe(NOTES)

    // JSON, pretty-printed.
    await tree.getByRole('button', { name: /^metrics\.json/ }).click()
    await expect(page.locator('.json-preview').textContent()).resolves.toBe(JSON.stringify(METRICS, null, 2))

    // A large text file: only its head is read, and the page says so.
    const headRequest = page.waitForRequest((request) => request.url().endsWith('/artifacts/content/outputs/big.txt'))
    await tree.getByRole('button', { name: /^big\.txt/ }).click()
    expect((await headRequest).headers().range).toBe(`bytes=0-${256 * 1024 - 1}`)
    await page.getByRole('note').filter({ hasText: 'Showing the first 256 KiB of 300 KiB' }).waitFor()
    await expect(page.locator('.preview-text').textContent()).resolves.toHaveLength(256 * 1024)

    // An image, decoded by the browser.
    await tree.getByRole('button', { name: /^plot\.png/ }).click()
    await waitFor(
      async () => (await page.evaluate("document.querySelector('img.image-preview')?.naturalWidth")) === 2,
      'the image decoded',
    )

    // Folders open and close; Back returns to the previous selection.
    await expect(tree.getByRole('button', { name: /^weights\.bin/ }).count()).resolves.toBe(0)
    await tree.getByRole('button', { name: 'Open folder outputs/model' }).click()
    await tree.getByRole('button', { name: /^weights\.bin/ }).waitFor()
    await tree.getByRole('button', { name: 'Close folder outputs/model' }).click()
    await tree.getByRole('button', { name: /^weights\.bin/ }).waitFor({ state: 'detached' })
    await page.goBack()
    await page.waitForURL(/path=outputs%2Fbig\.txt/)
    await page.getByRole('note').filter({ hasText: 'Showing the first 256 KiB' }).waitFor()

    // A shared link opens on its selection.
    const shared = await studio.open(`/w/default/runs/${trainId}?tab=artifacts&path=outputs%2Fmetrics.json`)
    await expect(shared.page.locator('.json-preview').textContent()).resolves.toBe(JSON.stringify(METRICS, null, 2))
    expect(shared.errors).toEqual([])

    // Readable 390 pixels wide: the tree above the preview, nothing pushing the page sideways.
    const phone = await studio.open(`/w/default/runs/${trainId}?tab=artifacts&path=outputs%2Ftable.csv`, { viewport: PHONE })
    await phone.page.locator('.csv-preview table').waitFor()
    const overflow = await phone.page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await studio.screenshot(phone.page, 'run-artifacts-phone')
    expect(phone.errors).toEqual([])
    expect(errors).toEqual([])
  })

  it('promotes an artifact folder to an asset version; a bad asset name is shown at its field', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${trainId}?tab=artifacts&path=outputs%2Fmodel`)
    await page.getByRole('heading', { name: 'outputs/model/' }).waitFor()
    await page.getByRole('button', { name: 'Promote to asset…' }).click()
    await page.waitForURL(/promote=1/)
    const form = page.locator('form.promote-form')
    await expect(form.getByLabel('Artifact or folder').inputValue()).resolves.toBe('outputs/model')

    const name = form.getByRole('textbox', { name: 'Asset name' })
    await name.fill('bad name!')
    await form.getByRole('button', { name: 'Promote' }).click()
    // The refusal sits at the name field, tied to it for screen readers.
    await form.locator('input[name="name"][aria-invalid="true"]').waitFor()
    const describedBy = await name.getAttribute('aria-describedby')
    expect(describedBy).toBeTruthy()
    const nameError = form.locator('label', { hasText: 'Asset name' }).locator(`[id="${describedBy}"]`)
    await expect(nameError.getAttribute('role')).resolves.toBe('alert')
    await expect(nameError.textContent()).resolves.toContain('asset name "bad name!" is not valid')
    await expect(studio.client.listAssets().toArray()).resolves.toEqual([])

    await name.fill('digits-model')
    await form.getByLabel('Description').fill('the first model')
    await form.getByLabel('Tags').fill('stage=candidate')
    await form.getByRole('button', { name: 'Promote' }).click()
    const created = form.getByRole('link', { name: 'digits-model version 1' })
    await created.waitFor()
    await studio.screenshot(page, 'run-promote')
    await expect(created.getAttribute('href')).resolves.toBe('/w/default/assets/digits-model?version=1')
    await expect(name.getAttribute('aria-invalid')).resolves.toBeNull()

    const version = await studio.client.getAssetVersion('digits-model', 1)
    expect(version).toMatchObject({
      sourceRunId: trainId,
      artifactPath: 'outputs/model',
      description: 'the first model',
      tags: { stage: 'candidate' },
    })
    expect(version.files.map((f) => f.path).sort()).toEqual(['model/config.json', 'model/weights.bin'])
    // The browser notes the refused request itself; nothing else went wrong.
    expect(errors).toEqual(['console error: Failed to load resource: the server responded with a status of 400 (Bad Request)'])
  })

  it("follows a running script's log live, without a reload, and lets another log be picked", async () => {
    const runId = await submitLong('studio-logs')
    const { page, errors } = await studio.open(`/w/default/runs/${runId}?tab=logs`)
    const view = page.locator('pre.log-view')
    await view.waitFor()
    await page.evaluate('window.__sameDocument = true')
    const ticks = async () =>
      Math.max(0, ...[...((await view.textContent()) ?? '').matchAll(/tick (\d+)/g)].map((m) => Number(m[1])))
    await waitFor(async () => (await ticks()) >= 2, 'tick 2 in the log view')
    const seen = await ticks()
    // New lines arrive while the page stays as it is.
    await waitFor(async () => (await ticks()) >= seen + 3, `tick ${seen + 3} in the log view`)
    expect(await page.evaluate('window.__sameDocument')).toBe(true)
    await expect(view.textContent()).resolves.toMatch(/^started\ntick 1\n/)
    await expect(page.getByRole('status').filter({ hasText: 'Following the live log' }).count()).resolves.toBe(1)
    // Following keeps the view scrolled to its end.
    await waitFor(async () => {
      const { top, height, client } = await page.evaluate<{ top: number; height: number; client: number }>(
        "(() => { const el = document.querySelector('pre.log-view'); return { top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight } })()",
      )
      return top + client >= height - 2
    }, 'the log view at its end')
    await studio.screenshot(page, 'run-logs')

    // The runner's own log, in the URL.
    await page.getByRole('combobox', { name: 'Log' }).selectOption('runner.txt')
    await page.waitForURL(/log=runner\.txt/)
    await waitFor(async () => !((await view.textContent()) ?? '').includes('tick'), 'the runner log in view')

    // Once the run ends, the tail stops and says so.
    await page.getByRole('combobox', { name: 'Log' }).selectOption('std_log.txt')
    await studio.client.call('cancelRun', { params: { runId } })
    await page.getByRole('status').filter({ hasText: 'The run has ended: this is the whole log' }).waitFor({ timeout: 30_000 })
    // The whole log downloads as one file.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download log' }).click(),
    ])
    expect(download.suggestedFilename()).toBe(`${runId}-std_log.txt`)
    const whole = await readFile(await download.path(), 'utf8')
    expect(whole).toMatch(/^started\ntick 1\ntick 2\n/)
    await expect(view.textContent()).resolves.toBe(whole)
    expect(errors).toEqual([])
  })

  it('cancels a running submitted run after a confirm step; the status follows to Canceled', async () => {
    const runId = await submitLong('studio-cancel')
    const { page, errors } = await studio.open(`/w/default/runs/${runId}`)
    await page.locator('header .badge[data-status="Running"]').waitFor()
    // The first click only asks; keeping the run leaves it running.
    await page.getByRole('button', { name: 'Cancel run' }).click()
    await page.getByRole('button', { name: 'Keep it running' }).click()
    const untouched = await studio.client.getRun(runId)
    expect(untouched).toMatchObject({ status: 'Running', cancelRequestedAt: null })

    await page.getByRole('button', { name: 'Cancel run' }).click()
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click()
    await page.locator('header .badge[data-status="Canceled"]').waitFor({ timeout: 30_000 })
    const canceled: Run = await studio.client.getRun(runId)
    expect(canceled.status).toBe('Canceled')
    expect(canceled.cancelRequestedAt).not.toBeNull()
    expect(await page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0)
    await studio.screenshot(page, 'run-canceled')
    expect(errors).toEqual([])
  })
})

describe.skipIf(skip !== undefined)('the run page on a server with auth on', () => {
  const token = 'run-page-test-token-0123456789'
  let studio: Studio
  let runId: string
  beforeAll(async () => {
    studio = await startStudio({ authToken: token })
    // A run a script logs itself (through the client), still Running: no runner holds it.
    const run = await studio.client.createRun({ experiment: 'studio-auth', displayName: 'logged run', status: 'Running' })
    runId = run.id
    await studio.client.uploadArtifact(runId, {
      path: 'plots/loss.png',
      body: Buffer.from(PNG_BASE64, 'base64'),
      contentType: 'image/png',
    })
    await studio.client.uploadArtifact(runId, { path: 'notes.txt', body: NOTES, contentType: 'text/plain' })
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('previews and downloads artifacts with the tab token, and cancels a run no runner holds at once', async () => {
    const { page, errors } = await studio.open(`/w/default/runs/${runId}?tab=artifacts&path=plots%2Floss.png`)
    await page.getByRole('textbox', { name: 'Token' }).fill(token)
    await page.getByRole('button', { name: 'Use this token' }).click()
    // A link cannot carry the token: the image comes as a blob URL.
    // (Polled with evaluate: waitForFunction would need eval, which the studio's CSP forbids.)
    await waitFor(
      async () =>
        (await page.evaluate(
          "(() => { const img = document.querySelector('img.image-preview'); return img !== null && img.src.startsWith('blob:') && img.naturalWidth === 2 })()",
        )) === true,
      'the image decoded from a blob URL',
    )
    await page
      .getByRole('navigation', { name: 'Artifact files' })
      .getByRole('button', { name: /^notes\.txt/ })
      .click()
    await expect(page.locator('.preview-text').textContent()).resolves.toBe(NOTES)
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.artifact-preview').getByRole('link', { name: 'Download' }).click(),
    ])
    await expect(readFile(await download.path(), 'utf8')).resolves.toBe(NOTES)

    // Such a run has no live logs, and the page says where its files are.
    await page.getByRole('tab', { name: 'Logs' }).click()
    await page.getByText('Live logs are written by the runner of a submitted run').waitFor()

    // Canceling it needs no runner: it ends Canceled at once, and the confirm step says so.
    await page.getByRole('button', { name: 'Cancel run' }).click()
    await page.getByRole('group', { name: 'Confirm cancel' }).getByText('No runner holds this run').waitFor()
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click()
    await page.locator('header .badge[data-status="Canceled"]').waitFor()
    await expect(studio.client.getRun(runId)).resolves.toMatchObject({ status: 'Canceled' })
    // Only the first reads, refused before the token was given, were errors.
    expect(errors.filter((e) => !e.includes('status of 401'))).toEqual([])
  })
})

/** The cell texts of a table's body rows. */
async function rowTexts(table: Locator): Promise<string[][]> {
  const rows = await table.locator('tbody tr').all()
  return Promise.all(rows.map((row) => row.locator('th, td').allTextContents()))
}

/** Polls `check` until it holds (every 200 ms, up to 30 s); fails naming `what`. */
async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}
