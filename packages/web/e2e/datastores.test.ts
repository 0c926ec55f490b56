import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

/** A container name no other test uses. */
const freshContainer = (): string => `c${randomBytes(6).toString('hex')}`

/** The console errors a page logs for the server's refusals it shows (the browser logs each failed fetch). */
const refusals = (errors: string[], status: number) =>
  errors.filter((error) => !error.includes(`the server responded with a status of ${status}`))

describe.skipIf(skip !== undefined)('the datastores pages', () => {
  let studio: Studio
  let azurite: AzuriteInstance
  let roots: string

  beforeAll(async () => {
    ;[azurite, roots] = await Promise.all([startAzurite(), mkdtemp(path.join(tmpdir(), 'wharf-studio-ds-'))])
    studio = await startStudio({ config: { filesystemRoots: [roots] } })
  })
  afterAll(async () => {
    await studio?.stop()
    await azurite?.stop()
    if (roots) await rm(roots, { recursive: true, force: true })
  })

  /** Fills the Azure Blob form (the page is on the register form with Azure Blob chosen). */
  async function fillAzureBlob(page: Page, fields: { name: string; container: string; accountKey: string }) {
    await page.getByLabel('Name', { exact: true }).fill(fields.name)
    await page.getByLabel('Storage account').fill(azurite.accountName)
    await page.getByLabel('Container', { exact: true }).fill(fields.container)
    await page.getByRole('textbox', { name: 'Account key' }).fill(fields.accountKey)
    await page.getByLabel(/^Endpoint/).fill(azurite.endpoint)
  }

  it('registers an Azure Blob datastore through the form against Azurite, and never puts the key in the page', async () => {
    const { page, errors } = await studio.open('/w/default/datastores')
    await page.getByRole('link', { name: 'Register a datastore' }).click()
    await page.waitForURL('**/w/default/datastores/new')
    // Azure Blob with an account key is the form's first shape.
    expect(await page.getByRole('radio', { name: 'Azure Blob' }).isChecked()).toBe(true)
    const container = freshContainer()
    await fillAzureBlob(page, { name: 'azurite_images', container, accountKey: azurite.accountKey })
    await page.getByLabel('Create the container if it does not exist').check()
    await page.getByRole('button', { name: 'Register' }).click()

    // The server validated it for real (it created the container in Azurite) and the studio went to its page.
    await page.waitForURL('**/w/default/datastores/azurite_images')
    await page.getByRole('heading', { name: 'azurite_images' }).waitFor()
    await page.getByText('holds no files yet').waitFor()
    const registered = await studio.client.getDatastore('azurite_images')
    expect(registered).toMatchObject({ kind: 'azure_blob', authType: 'account_key', settings: { containerName: container } })
    expect(await page.content()).not.toContain(azurite.accountKey)

    // The list shows kind, auth and container, and still no key.
    await page.getByRole('link', { name: 'Datastores', exact: true }).first().click()
    const row = page.locator('tr[data-datastore="azurite_images"]')
    await row.waitFor()
    expect(await row.innerText()).toMatch(/Azure Blob\s+Account key\s+container\s*c[0-9a-f]{12}/)
    expect(await row.innerText()).toContain(azurite.endpoint)
    expect(await page.content()).not.toContain(azurite.accountKey)
    expect(await page.evaluate('JSON.stringify(sessionStorage) + JSON.stringify(localStorage)')).not.toContain(azurite.accountKey)
    // The built-ins are listed with the default marked.
    expect(await page.locator('tr[data-datastore="workspaceblobstore"] .ds-default').innerText()).toBe('default')
    await studio.screenshot(page, 'datastores')
    expect(errors).toEqual([])
  })

  it("shows the server's refusals at the field they belong to: a wrong account key, a bad name, a folder outside the roots", async () => {
    const { page, errors } = await studio.open('/w/default/datastores/new?kind=azure_blob')
    const wrongKey = randomBytes(64).toString('base64')
    await fillAzureBlob(page, { name: 'wrong_key', container: freshContainer(), accountKey: wrongKey })
    await page.getByLabel('Create the container if it does not exist').check()
    await page.getByRole('button', { name: 'Register' }).click()

    const keyError = page.locator('[data-field-error="accountKey"]')
    await keyError.waitFor()
    expect(await keyError.innerText()).toContain(`the storage account "${azurite.accountName}" refused the account key`)
    const keyInput = page.getByRole('textbox', { name: 'Account key' })
    expect(await keyInput.getAttribute('aria-invalid')).toBe('true')
    // The error is read with the input, and the input has the focus.
    expect(await keyInput.getAttribute('aria-describedby')).toContain('ds-accountKey-error')
    await page.waitForFunction("document.activeElement?.id === 'ds-accountKey'")
    expect(await page.locator('[data-field-error]').count()).toBe(1)
    expect(await page.content()).not.toContain(wrongKey)
    expect((await studio.client.listDatastores()).map((d) => d.name)).not.toContain('wrong_key')
    await studio.screenshot(page, 'datastore-register')

    // Typing in the field clears its error.
    await keyInput.fill(azurite.accountKey)
    await keyError.waitFor({ state: 'detached' })

    // A name the server's rule refuses is shown at the name.
    await page.getByLabel('Name', { exact: true }).fill('Not-A-Name')
    await page.getByRole('button', { name: 'Register' }).click()
    const nameError = page.locator('[data-field-error="name"]')
    await nameError.waitFor()
    expect(await nameError.innerText()).toContain('datastore name "Not-A-Name" is not valid')

    // A folder outside the folders the server serves: at the folder's field, and the kind is in the URL.
    await page.getByRole('radio', { name: 'Folder' }).check()
    await page.waitForURL('**/datastores/new?kind=filesystem')
    await page.getByLabel('Name', { exact: true }).fill('outside')
    await page.getByLabel('Folder path').fill(path.join(tmpdir(), 'not-served-here'))
    await page.getByRole('button', { name: 'Register' }).click()
    const pathError = page.locator('[data-field-error="path"]')
    await pathError.waitFor()
    expect(await pathError.innerText()).toContain('is outside the folders this server serves')

    // One refusal that names no field (the storage is missing and not to be created) is shown for the form.
    await page.getByRole('radio', { name: 'Azure Blob' }).check()
    await fillAzureBlob(page, { name: 'no_container', container: freshContainer(), accountKey: azurite.accountKey })
    await page.getByLabel('Create the container if it does not exist').uncheck()
    await page.getByRole('button', { name: 'Register' }).click()
    const formError = page.locator('#form-error')
    await formError.waitFor()
    expect(await formError.innerText()).toContain('does not exist')
    expect(await formError.innerText()).toContain('DATASTORE_UNAVAILABLE')

    // With a SAS token chosen, a missing credential is shown at the SAS token's input (the server names accountKey).
    await page.getByRole('radio', { name: 'SAS token' }).check()
    await page.waitForURL('**/datastores/new?kind=azure_blob&auth=sas')
    // The account key typed before is not carried into the SAS input.
    expect(await page.getByRole('textbox', { name: 'SAS token' }).inputValue()).toBe('')
    await page.getByRole('button', { name: 'Register' }).click()
    const sasError = page.locator('[data-field-error="sasToken"]')
    await sasError.waitFor()
    expect(await sasError.innerText()).toContain('an Azure datastore needs credentials')

    // S3: the secret access key left out is shown at its input.
    await page.getByRole('radio', { name: 'S3' }).check()
    await page.getByLabel('Bucket', { exact: true }).fill('models-bucket')
    await page.getByLabel('Access key id').fill('AKIAEXAMPLE')
    await page.getByRole('button', { name: 'Register' }).click()
    const secretError = page.locator('[data-field-error="secretAccessKey"]')
    await secretError.waitFor()
    expect(await secretError.innerText()).toContain('the secret access key is required')

    // Each refusal was an answer of the server the browser logged; nothing else went wrong.
    expect(refusals(refusals(refusals(errors, 400), 403), 503)).toEqual([])
    expect(errors.length).toBeGreaterThanOrEqual(6)
  })

  it('registers a folder inside the served roots, makes it the default, and unregisters only what the server allows', async () => {
    const { page, errors } = await studio.open('/w/default/datastores/new?kind=filesystem')
    const folder = path.join(roots, 'local-folder')
    await page.getByLabel('Name', { exact: true }).fill('local_folder')
    await page.getByLabel('Folder path').fill(folder)
    await page.getByLabel('Create the folder if it does not exist').check()
    await page.getByRole('button', { name: 'Register' }).click()
    await page.waitForURL('**/w/default/datastores/local_folder')
    await page.getByText(`Folder folder ${folder}`).waitFor()

    await page.goto('/w/default/datastores')
    const row = page.locator('tr[data-datastore="local_folder"]')
    await row.waitFor()
    expect(await row.innerText()).toMatch(/Folder\s+None/)
    expect(await row.locator('.ds-default').count()).toBe(0)
    await page.getByRole('button', { name: 'Make local_folder the default datastore' }).click()
    await row.locator('.ds-default').waitFor()
    await page.locator('tr[data-datastore="workspaceblobstore"] .ds-default').waitFor({ state: 'detached' })
    expect((await studio.client.getWorkspace()).defaultDatastore).toBe('local_folder')
    expect(await page.getByRole('button', { name: 'Make local_folder the default datastore' }).isDisabled()).toBe(true)

    // The server refuses to unregister the artifact store; the dialog shows why and stays.
    await page.getByRole('button', { name: 'Unregister workspaceblobstore' }).click()
    const dialog = page.getByRole('dialog', { name: 'Unregister “workspaceblobstore”?' })
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Unregister' }).click()
    await dialog.getByRole('alert').waitFor()
    expect(await dialog.getByRole('alert').innerText()).toContain("holds the workspace's artifacts and cannot be unregistered")
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'detached' })
    expect((await studio.client.listDatastores()).map((d) => d.name)).toContain('workspaceblobstore')

    // Back to the built-in default; then the folder can go, and the list updates.
    await page.getByRole('button', { name: 'Make workspaceblobstore the default datastore' }).click()
    await page.locator('tr[data-datastore="workspaceblobstore"] .ds-default').waitFor()
    await page.getByRole('button', { name: 'Unregister local_folder' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Unregister' }).click()
    await row.waitFor({ state: 'detached' })
    await page.getByText('"local_folder" is unregistered').waitFor()
    expect((await studio.client.listDatastores()).map((d) => d.name)).not.toContain('local_folder')
    expect(refusals(errors, 403)).toEqual([])
  })

  it('browses files uploaded through the client folder by folder, with the folder in the URL, and downloads one', async () => {
    await studio.client.registerDatastore({
      kind: 'azure_blob',
      name: 'browsed',
      accountName: azurite.accountName,
      endpoint: azurite.endpoint,
      containerName: freshContainer(),
      accountKey: azurite.accountKey,
      createIfNotExists: true,
    })
    const csv = Buffer.concat([Buffer.from('x,y\n'), randomBytes(3000)])
    const files: Record<string, Buffer | string> = {
      'top.txt': 'at the top',
      'data/readme.md': '# data',
      'data/train/a.csv': csv,
      'data/train/b.csv': 'x,y\n1,2\n',
      'data/test/c.csv': 'x,y\n3,4\n',
    }
    for (const [filePath, body] of Object.entries(files)) {
      await studio.client.uploadDatastoreFile('browsed', { path: filePath, body })
    }

    const { page, errors } = await studio.open('/w/default/datastores')
    await page.getByRole('link', { name: 'browsed', exact: true }).click()
    await page.waitForURL('**/w/default/datastores/browsed')
    const table = page.getByRole('table', { name: 'Files of browsed' })
    await table.waitFor()
    const names = await table.locator('tbody th').allInnerTexts()
    expect(names.map((n) => n.replace(/\s+/g, ' ').trim())).toEqual(['data/ 4 files', 'top.txt'])

    await page.getByRole('link', { name: 'data/' }).click()
    await page.waitForURL('**/w/default/datastores/browsed?path=data%2F')
    const inData = page.getByRole('table', { name: 'Files under data/' })
    await inData.waitFor()
    expect((await inData.locator('tbody th').allInnerTexts()).map((n) => n.replace(/\s+/g, ' ').trim())).toEqual([
      'test/ 1 file',
      'train/ 2 files',
      'readme.md',
    ])
    await page.getByRole('link', { name: 'train/' }).click()
    await page.waitForURL('**/datastores/browsed?path=data%2Ftrain%2F')
    const inTrain = page.getByRole('table', { name: 'Files under data/train/' })
    await inTrain.waitFor()
    expect(await page.getByRole('navigation', { name: 'Folder' }).innerText()).toBe('Datastores / browsed / data / train')
    const row = inTrain.locator('tr[data-path="data/train/a.csv"]')
    expect(await row.innerText()).toContain('2.9 KiB')
    await studio.screenshot(page, 'datastore-browse')

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Download a.csv' }).click(),
    ])
    expect(download.suggestedFilename()).toBe('a.csv')
    expect((await readFile(await download.path())).equals(csv)).toBe(true)

    // Back goes up the folders the way they were opened; the breadcrumb goes straight to any level.
    await page.goBack()
    await page.waitForURL('**/datastores/browsed?path=data%2F')
    await page.getByRole('navigation', { name: 'Folder' }).getByRole('link', { name: 'browsed' }).click()
    await page.waitForURL('**/w/default/datastores/browsed')
    await page.getByRole('table', { name: 'Files of browsed' }).waitFor()

    // A shared link to an empty folder says so and leads back.
    await page.goto('/w/default/datastores/browsed?path=nothing/here')
    await page.getByText('There are no files under "nothing/here/".').waitFor()
    expect(errors).toEqual([])
  })

  it('reads a long listing a page at a time: folders add up as more pages come', async () => {
    const folder = path.join(roots, 'many-files')
    await studio.client.registerDatastore({ kind: 'filesystem', name: 'many', path: folder, createIfNotExists: true })
    // More than the server's page of 100: the top file sorts after every file of the folder.
    const count = 130
    for (let i = 0; i < count; i++) {
      await studio.client.uploadDatastoreFile('many', { path: `runs/${String(i).padStart(4, '0')}.json`, body: `{"i":${i}}` })
    }
    await studio.client.uploadDatastoreFile('many', { path: 'zz-last.txt', body: 'last' })

    const { page, errors } = await studio.open('/w/default/datastores/many')
    const table = page.getByRole('table', { name: 'Files of many' })
    await table.waitFor()
    expect((await table.locator('tbody th').allInnerTexts()).map((n) => n.replace(/\s+/g, ' ').trim())).toEqual([
      'runs/ 100 files so far',
    ])
    expect(await page.getByText('100 files listed; there are more.').count()).toBe(1)
    await page.getByRole('button', { name: 'Load more files' }).click()
    await page.getByText(`${count + 1} files listed.`).waitFor()
    expect((await table.locator('tbody th').allInnerTexts()).map((n) => n.replace(/\s+/g, ' ').trim())).toEqual([
      `runs/ ${count} files`,
      'zz-last.txt',
    ])
    expect(await page.getByRole('button', { name: 'Load more files' }).count()).toBe(0)
    expect(errors).toEqual([])
  })

  it('says which datastore does not exist, and is readable 390 pixels wide in the dark', async () => {
    const missing = await studio.open('/w/default/datastores/no_such_store')
    await missing.page.getByText('DATASTORE_NOT_FOUND').first().waitFor()
    expect(refusals(missing.errors, 404)).toEqual([])

    const { page, errors } = await studio.open('/w/default/datastores', { viewport: PHONE, colorScheme: 'dark' })
    await page.locator('tr[data-datastore="workspaceblobstore"]').waitFor()
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await page.goto('/w/default/datastores/new?kind=s3')
    await page.getByLabel('Secret access key').waitFor()
    expect(await page.getByLabel('Secret access key').getAttribute('type')).toBe('password')
    const formOverflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(formOverflow).toBeLessThanOrEqual(0)
    expect(errors).toEqual([])
  })
})

describe.skipIf(skip !== undefined)('the datastores pages on a server with auth on', () => {
  const token = 'studio-datastores-token-0123456789'
  let studio: Studio
  let roots: string

  beforeAll(async () => {
    roots = await mkdtemp(path.join(tmpdir(), 'wharf-studio-ds-auth-'))
    studio = await startStudio({ authToken: token, config: { filesystemRoots: [roots] } })
  })
  afterAll(async () => {
    await studio?.stop()
    if (roots) await rm(roots, { recursive: true, force: true })
  })

  it('asks for the token, then lists, browses and downloads with it (a plain link could not carry it)', async () => {
    await studio.client.registerDatastore({
      kind: 'filesystem',
      name: 'guarded',
      path: path.join(roots, 'g'),
      createIfNotExists: true,
    })
    const body = randomBytes(5000)
    await studio.client.uploadDatastoreFile('guarded', { path: 'secret/weights.bin', body })

    const { page, errors } = await studio.open('/w/default/datastores/guarded?path=secret')
    await page.getByRole('heading', { name: 'This server asks for a token' }).waitFor()
    await page.getByRole('textbox', { name: 'Token' }).fill(token)
    await page.getByRole('button', { name: 'Use this token' }).click()
    const row = page.locator('tr[data-path="secret/weights.bin"]')
    await row.waitFor()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Download weights.bin' }).click(),
    ])
    expect(download.suggestedFilename()).toBe('weights.bin')
    expect((await readFile(await download.path())).equals(body)).toBe(true)
    // Without the token the same file is refused: the download above really carried it.
    const href = await row.getByRole('link', { name: 'Download weights.bin' }).getAttribute('href')
    expect((await fetch(`${studio.url}${href}`)).status).toBe(401)
    // The first reads, before the token was given, were refused; nothing else failed.
    expect(refusals(errors, 401)).toEqual([])
  })
})
