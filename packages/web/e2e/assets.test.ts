import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Locator } from 'playwright-core'
import type { AssetVersion } from '@wharf/contract'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

/** Whether the element has the keyboard focus (the tests' tsconfig has no DOM types, hence the shape). */
const isFocused = (locator: Locator) =>
  locator.evaluate((element: { matches(selector: string): boolean }) => element.matches(':focus'))

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')

describe.skipIf(skip !== undefined)('the assets pages', () => {
  let studio: Studio
  let runId: string
  let first: AssetVersion
  let second: AssetVersion
  const weights = randomBytes(40_000)
  const config = JSON.stringify({ layers: 3, activation: 'relu' })

  beforeAll(async () => {
    studio = await startStudio()
    const { client } = studio
    // A run that logged artifacts, finished, and had its model folder promoted twice.
    const run = await client.createRun({ experiment: 'assets-e2e', status: 'Running' })
    runId = run.id
    await client.uploadArtifact(runId, { path: 'outputs/model/weights.bin', body: weights })
    await client.uploadArtifact(runId, { path: 'outputs/model/config.json', body: config, contentType: 'application/json' })
    await client.uploadArtifact(runId, { path: 'outputs/notes.txt', body: 'not part of the model' })
    await client.setRunStatus(runId, 'Completed')
    first = await client.promoteAsset({
      name: 'churn-model',
      runId,
      artifactPath: 'outputs/model',
      description: 'first cut',
      tags: { stage: 'dev', owner: 'ml-team' },
    })
    second = await client.promoteAsset({ name: 'churn-model', runId, artifactPath: 'outputs/model', description: 'retrained' })
    await client.promoteAsset({ name: 'notes', runId, artifactPath: 'outputs/notes.txt' })
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('lists assets with their latest version and version count, and opens the latest version', async () => {
    const { page, errors } = await studio.open('/w/default/assets')
    const table = page.getByRole('table', { name: 'Assets of workspace default' })
    await table.waitFor()
    expect(await table.locator('tbody th').allInnerTexts()).toEqual(['churn-model', 'notes'])
    const row = table.locator('tr[data-asset="churn-model"]')
    expect((await row.innerText()).split('\t').map((cell) => cell.trim())).toEqual([
      'churn-model',
      'v2',
      '2',
      'retrained',
      expect.any(String),
    ])
    await studio.screenshot(page, 'assets')

    await row.getByRole('link', { name: 'churn-model', exact: true }).click()
    await page.waitForURL('**/w/default/assets/churn-model')
    await page.getByRole('heading', { name: 'churn-model v2' }).waitFor()
    expect(await page.locator('.asset-facts').innerText()).toContain('retrained')
    // The newest is marked current in the versions list.
    expect(await page.locator('.asset-version-list a[aria-current="page"] strong').innerText()).toBe('v2')
    expect(errors).toEqual([])
  })

  it('shows a version: where it came from, description, tags, files with sha256; downloads a file; the version is in the URL', async () => {
    const { page, errors } = await studio.open('/w/default/assets/churn-model')
    await page.getByRole('heading', { name: 'churn-model v2' }).waitFor()
    await page.getByRole('link', { name: /^v1\b/ }).click()
    await page.waitForURL('**/w/default/assets/churn-model?version=1')
    await page.getByRole('heading', { name: 'churn-model v1' }).waitFor()

    const facts = page.locator('.asset-facts')
    expect(await facts.innerText()).toContain('first cut')
    expect(await facts.innerText()).toContain('outputs/model')
    expect(await facts.getByRole('list', { name: 'Tags of v1' }).locator('.tag-text').allInnerTexts()).toEqual([
      'owner=ml-team',
      'stage=dev',
    ])
    const runLink = facts.getByRole('link', { name: runId })
    expect(await runLink.getAttribute('href')).toBe(`/w/default/runs/${encodeURIComponent(runId)}?tab=artifacts`)

    const files = page.getByRole('table', { name: 'Files of churn-model version 1' })
    expect(first.files.map((f) => f.path).sort()).toEqual(['model/config.json', 'model/weights.bin'])
    const weightsRow = files.locator('tr[data-path="model/weights.bin"]')
    expect(await weightsRow.innerText()).toContain(sha256(weights))
    expect(await weightsRow.innerText()).toContain('39 KiB')
    expect(await files.locator('tr[data-path="model/config.json"]').innerText()).toContain(sha256(config))
    await studio.screenshot(page, 'asset')

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      weightsRow.getByRole('link', { name: 'Download model/weights.bin' }).click(),
    ])
    expect(download.suggestedFilename()).toBe('weights.bin')
    expect(download.url()).toContain('/assets/churn-model/versions/1/files/model/weights.bin')
    expect((await readFile(await download.path())).equals(weights)).toBe(true)

    // Back returns to the latest version, the one the page opened on.
    await page.goBack()
    await page.waitForURL('**/w/default/assets/churn-model')
    await page.getByRole('heading', { name: `churn-model v${second.version}` }).waitFor()
    expect(errors).toEqual([])
  })

  it('says what to do when there are no assets, and which asset or version does not exist', async () => {
    await studio.client.createWorkspace('empty')
    const empty = await studio.open('/w/empty/assets')
    await empty.page.getByText('No asset in workspace "empty" yet.').waitFor()
    expect(await empty.page.getByText('wharf history promote').count()).toBe(1)
    expect(empty.errors).toEqual([])

    const missing = await studio.open('/w/default/assets/no-such-asset')
    await missing.page.getByText('ASSET_NOT_FOUND').first().waitFor()
    const noVersion = await studio.open('/w/default/assets/churn-model?version=9')
    await noVersion.page.getByText('Could not load version 9 of "churn-model".').waitFor()
    // The versions that do exist are still there to pick.
    await noVersion.page.getByRole('link', { name: /^v2\b/ }).waitFor()
    for (const errors of [missing.errors, noVersion.errors]) {
      expect(errors.filter((e) => !e.includes('the server responded with a status of 404'))).toEqual([])
    }
  })

  it('shows aliases on their versions, points one at a version, moves it, refuses a bad name and removes it', async () => {
    const { client } = studio
    await client.promoteAsset({ name: 'ranker', runId, artifactPath: 'outputs/notes.txt' })
    await client.promoteAsset({ name: 'ranker', runId, artifactPath: 'outputs/notes.txt' })
    await client.setAssetAlias({ name: 'ranker', alias: 'champion', version: 1 })

    // An alias in the address opens the version it points at.
    const { page, errors } = await studio.open('/w/default/assets/ranker?version=champion')
    await page.getByRole('heading', { name: 'ranker v1' }).waitFor()
    await expect(page.getByRole('list', { name: 'Aliases of v1' }).innerText()).resolves.toContain('@champion')
    await expect(page.getByRole('link', { name: /^v1\b/ }).innerText()).resolves.toContain('@champion')

    await page.getByRole('link', { name: /^v2\b/ }).click()
    await page.getByRole('heading', { name: 'ranker v2' }).waitFor()
    const field = page.getByRole('textbox', { name: 'Alias to point at v2' })
    await field.fill('latest')
    await page.getByRole('button', { name: 'Point at v2' }).click()
    await expect(page.locator('#alias-outcome').innerText()).resolves.toContain('"latest" cannot be an alias')
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true')

    await field.fill('champion')
    await page.getByRole('button', { name: 'Point at v2' }).click()
    await page.getByText('@champion moved from v1 to v2.').waitFor()
    await page.getByRole('list', { name: 'Aliases of v2' }).getByText('@champion').waitFor()
    await expect(page.getByRole('link', { name: /^v1\b/ }).innerText()).resolves.not.toContain('@champion')
    expect((await client.getAssetVersion('ranker', 'champion')).version).toBe(2)
    await studio.screenshot(page, 'asset-aliases')

    await page.getByRole('button', { name: 'Remove alias champion' }).click()
    await page.getByText('@champion is removed; v2 stays.').waitFor()
    expect(await client.listAssetAliases('ranker')).toEqual([])
    // What was typed and said at v2 stays with v2.
    await field.fill('draft')
    await page.getByRole('link', { name: /^v1\b/ }).click()
    await page.getByRole('heading', { name: 'ranker v1' }).waitFor()
    await expect(page.getByRole('textbox', { name: 'Alias to point at v1' }).inputValue()).resolves.toBe('')
    await expect(page.locator('#alias-outcome').innerText()).resolves.toBe('')
    expect(errors).toEqual([])
  })

  it("edits a version's description: Escape and Cancel leave it, Save shows it in the facts and the versions list", async () => {
    const { client } = studio
    await client.promoteAsset({ name: 'scorer', runId, artifactPath: 'outputs/notes.txt', description: 'baseline' })
    await client.promoteAsset({ name: 'scorer', runId, artifactPath: 'outputs/notes.txt', description: 'second' })
    await client.setAssetAlias({ name: 'scorer', alias: 'shipped', version: 1 })
    // Opened by alias: the version read under that name must be read again after a save, not only v1's.
    const { page, errors } = await studio.open('/w/default/assets/scorer?version=shipped')
    await page.getByRole('heading', { name: 'scorer v1' }).waitFor()
    const facts = page.locator('.asset-facts')
    const edit = page.getByRole('button', { name: 'Edit description' })
    const field = page.getByRole('textbox', { name: 'Description of v1' })

    // Escape closes the editor, drops the draft and gives focus back to Edit.
    await edit.click()
    await expect(isFocused(field)).resolves.toBe(true)
    await expect(field.inputValue()).resolves.toBe('baseline')
    await field.fill('not kept')
    await field.press('Escape')
    await edit.waitFor()
    await expect(isFocused(edit)).resolves.toBe(true)
    expect(await field.count()).toBe(0)
    expect(await facts.innerText()).toContain('baseline')

    await edit.click()
    await field.fill('not kept either')
    await page.getByRole('button', { name: 'Cancel' }).click()
    expect(await facts.innerText()).toContain('baseline')
    expect(await facts.innerText()).not.toContain('not kept')
    expect((await client.getAssetVersion('scorer', 1)).description).toBe('baseline')

    // By keyboard: Enter opens the editor, Tab reaches Save.
    await edit.focus()
    await page.keyboard.press('Enter')
    await expect(isFocused(field)).resolves.toBe(true)
    await field.fill('baseline, calibrated')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('#version-edit-outcome').innerText()).toBe('The description of v1 is saved.')
    await facts.getByText('baseline, calibrated').waitFor()
    await page.getByRole('link', { name: /^v1\b/ }).getByText('baseline, calibrated').waitFor()
    expect((await client.getAssetVersion('scorer', 1)).description).toBe('baseline, calibrated')
    expect(errors).toEqual([])
  })

  it('adds a tag, refuses one without a key here and one the server refuses at the field, removes a tag', async () => {
    const { client } = studio
    await client.promoteAsset({
      name: 'tagged',
      runId,
      artifactPath: 'outputs/notes.txt',
      tags: { owner: 'ml-team', stage: 'dev' },
    })
    const { page, errors } = await studio.open('/w/default/assets/tagged')
    await page.getByRole('heading', { name: 'tagged v1' }).waitFor()
    const tags = page.getByRole('list', { name: 'Tags of v1' })
    const field = page.getByRole('textbox', { name: 'Tag to set on v1' })
    const fieldError = page.locator('#version-tag-error')
    const outcome = page.locator('#version-edit-outcome')

    await field.fill('team=search')
    await field.press('Enter')
    await expect.poll(() => outcome.innerText()).toBe('Tag team=search is added to v1.')
    await tags.getByText('team=search').waitFor()
    await expect(field.inputValue()).resolves.toBe('')
    await field.fill('reviewed')
    await page.getByRole('button', { name: 'Add tag' }).click()
    await expect.poll(() => outcome.innerText()).toBe('Tag reviewed is added to v1.')
    await field.fill('stage = prod')
    await field.press('Enter')
    await expect.poll(() => outcome.innerText()).toBe('Tag stage of v1 changed from "dev" to "prod".')
    await expect
      .poll(() => tags.locator('.tag-text').allInnerTexts())
      .toEqual(['owner=ml-team', 'reviewed', 'stage=prod', 'team=search'])
    expect((await client.getAssetVersion('tagged', 1)).tags).toEqual({
      owner: 'ml-team',
      reviewed: '',
      stage: 'prod',
      team: 'search',
    })

    // No key: said here, nothing sent.
    await field.fill('=prod')
    await field.press('Enter')
    await expect.poll(() => fieldError.innerText()).toBe('"=prod" has no key: write key=value, or key alone.')
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true')

    // A key over the server's keyLength limit (255): the server's refusal, at the field, the draft kept.
    const long = `${'k'.repeat(256)}=v`
    await field.fill(long)
    await field.press('Enter')
    await fieldError.getByText('LIMIT_EXCEEDED').waitFor()
    expect(await fieldError.innerText()).toContain('the limit is 255')
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true')
    await expect(field.getAttribute('aria-describedby')).resolves.toBe('version-tag-error')
    await expect(field.inputValue()).resolves.toBe(long)
    expect(Object.keys((await client.getAssetVersion('tagged', 1)).tags)).toHaveLength(4)
    await page.getByRole('button', { name: 'Edit description' }).click()
    await studio.screenshot(page, 'asset-edit')
    await page.getByRole('button', { name: 'Cancel' }).click()

    await page.getByRole('button', { name: 'Remove tag owner' }).click()
    await expect.poll(() => outcome.innerText()).toBe('Tag owner is removed from v1.')
    await page.getByRole('button', { name: 'Remove tag owner' }).waitFor({ state: 'detached' })
    await expect(isFocused(field)).resolves.toBe(true)
    expect((await client.getAssetVersion('tagged', 1)).tags).toEqual({ reviewed: '', stage: 'prod', team: 'search' })
    // The one refusal the server gave is the only console error.
    expect(errors.filter((e) => !e.includes('the server responded with a status of 400'))).toEqual([])
    expect(errors).toHaveLength(1)
  })

  it('keeps what was typed and said at one version with that version', async () => {
    const { client } = studio
    await client.promoteAsset({ name: 'switcher', runId, artifactPath: 'outputs/notes.txt', description: 'one' })
    await client.promoteAsset({ name: 'switcher', runId, artifactPath: 'outputs/notes.txt', description: 'two' })
    const { page, errors } = await studio.open('/w/default/assets/switcher?version=2')
    await page.getByRole('heading', { name: 'switcher v2' }).waitFor()
    await page.getByRole('textbox', { name: 'Tag to set on v2' }).fill('gate')
    await page.getByRole('button', { name: 'Add tag' }).click()
    await expect.poll(() => page.locator('#version-edit-outcome').innerText()).toBe('Tag gate is added to v2.')
    await page.getByRole('textbox', { name: 'Tag to set on v2' }).fill('=x')
    await page.getByRole('button', { name: 'Add tag' }).click()
    await page.locator('#version-tag-error').getByText('has no key').waitFor()
    await page.getByRole('button', { name: 'Edit description' }).click()
    await page.getByRole('textbox', { name: 'Description of v2' }).fill('half-typed')

    await page.getByRole('link', { name: /^v1\b/ }).click()
    await page.getByRole('heading', { name: 'switcher v1' }).waitFor()
    expect(await page.getByRole('textbox', { name: /^Description of/ }).count()).toBe(0)
    expect(await page.locator('.asset-facts').innerText()).toContain('one')
    await expect(page.getByRole('textbox', { name: 'Tag to set on v1' }).inputValue()).resolves.toBe('')
    await expect(page.getByRole('textbox', { name: 'Tag to set on v1' }).getAttribute('aria-invalid')).resolves.toBe('false')
    await expect(page.locator('#version-tag-error').innerText()).resolves.toBe('')
    await expect(page.locator('#version-edit-outcome').innerText()).resolves.toBe('')
    // Nothing typed at v2 was saved.
    expect((await client.getAssetVersion('switcher', 2)).description).toBe('two')
    expect((await client.getAssetVersion('switcher', 1)).tags).toEqual({})
    expect(errors).toEqual([])
  })

  it('is readable 390 pixels wide in the dark', async () => {
    const { page, errors } = await studio.open('/w/default/assets/churn-model?version=1', {
      viewport: PHONE,
      colorScheme: 'dark',
    })
    await page.getByRole('heading', { name: 'churn-model v1' }).waitFor()
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await studio.screenshot(page, 'asset-phone-dark')
    // The description editor fits too.
    await page.getByRole('button', { name: 'Edit description' }).click()
    await page.getByRole('textbox', { name: 'Description of v1' }).waitFor()
    const editing = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(editing).toBeLessThanOrEqual(0)
    await studio.screenshot(page, 'asset-edit-phone-dark')
    expect(errors).toEqual([])
  })
})
