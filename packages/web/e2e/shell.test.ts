import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PHONE, startStudio, studioSkipReason, type Studio } from './harness.js'

const skip = studioSkipReason()

describe.skipIf(skip !== undefined)('the studio shell', () => {
  let studio: Studio
  beforeAll(async () => {
    studio = await startStudio()
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('opens at the root, lands on the default workspace and keeps every section in the URL', async () => {
    const { page, errors } = await studio.open('/')
    await page.waitForURL('**/w/default/experiments')
    await page.getByRole('link', { name: 'Datastores' }).click()
    await page.waitForURL('**/w/default/datastores')
    // The tab says where it is, for tabs, history and bookmarks.
    await page.waitForFunction("document.title === 'Datastores · default · Wharf'")
    await page.getByRole('link', { name: 'Assets' }).click()
    await page.waitForURL('**/w/default/assets')
    await page.goBack()
    await page.waitForURL('**/w/default/datastores')
    expect(errors).toEqual([])
  })

  it('answers a shared deep link with the studio page, and an unknown page with a way back', async () => {
    const { page, errors } = await studio.open('/w/default/no-such-page')
    await expect(page.getByText('There is no studio page at this address.').isVisible()).resolves.toBe(true)
    expect(errors).toEqual([])
  })

  it('serves hashed assets for a year and the page itself fresh, with a content security policy', async () => {
    const pageResponse = await fetch(`${studio.url}/w/default/runs/anything`)
    expect(pageResponse.status).toBe(200)
    expect(pageResponse.headers.get('cache-control')).toBe('no-cache')
    expect(pageResponse.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await pageResponse.text()
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const asset = await fetch(`${studio.url}${script}`)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('cache-control')).toContain('immutable')
    // A stale page asking for an asset of an older build gets a 404, not the page.
    expect((await fetch(`${studio.url}/assets/index-old.js`)).status).toBe(404)
    // The API keeps its own answers for unknown paths.
    const api = await fetch(`${studio.url}/api/v1/no-such-endpoint`)
    expect(api.status).toBe(404)
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND')
  })

  it('opens the pages MLflow clients link to (#/experiments/<id>/runs/<run>) as the studio pages of that run and experiment', async () => {
    const run = await studio.client.createRun({ experiment: 'mlflow-links', displayName: 'linked run' })
    const experiment = await studio.client.getExperiment('mlflow-links')
    const { page, errors } = await studio.open(`/#/experiments/${experiment.id}/runs/${run.id}`)
    await page.waitForURL(`**/w/default/runs/${run.id}`)
    await page.getByRole('heading', { name: 'linked run' }).waitFor()
    await page.goto(`/#/experiments/${experiment.id}`)
    await page.waitForURL('**/w/default/experiments/mlflow-links')
    // An id no experiment has lands on the list rather than on an error.
    await page.goto('/#/experiments/987654')
    await page.waitForURL('**/w/default/experiments')
    expect(errors).toEqual([])
  })

  it('stops polling a run that does not exist (a refusal does not mend itself) and says so', async () => {
    const { page, errors } = await studio.open('/w/default/runs/01nosuchrun0000000000000000')
    const reads: string[] = []
    page.on('request', (request) => {
      if (request.url().includes('/runs/01nosuchrun')) reads.push(request.url())
    })
    await page.getByText('Could not load run').waitFor()
    reads.length = 0
    // Live pages poll every 2 s: over 5 s, a page still polling would read it twice.
    await page.waitForTimeout(5000)
    expect(reads).toEqual([])
    // The browser logs the 404 itself; nothing else went wrong.
    expect(errors.filter((e) => !e.includes('404'))).toEqual([])
  })

  it('is readable 390 pixels wide', async () => {
    const { page, errors } = await studio.open('/w/default/experiments', { viewport: PHONE, colorScheme: 'dark' })
    await page.getByRole('link', { name: 'Experiments' }).waitFor()
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await studio.screenshot(page, 'shell-phone-dark')
    expect(errors).toEqual([])
  })
})

describe.skipIf(skip !== undefined)('the studio on a server with auth on', () => {
  const token = 'studio-test-token-0123456789'
  let studio: Studio
  beforeAll(async () => {
    studio = await startStudio({ authToken: token })
  })
  afterAll(async () => {
    await studio?.stop()
  })

  it('asks for the token once, keeps it for the tab, and asks again in a new tab', async () => {
    const { page, context } = await studio.open('/w/default/experiments')
    const prompt = page.getByRole('dialog', { name: 'This server asks for a token' })
    await prompt.waitFor()
    // The page behind the dialog takes no clicks or focus while it is open.
    expect(await page.locator('.frame[inert]').count()).toBe(1)
    await studio.screenshot(page, 'token-prompt')
    await page.getByRole('textbox', { name: 'Token' }).fill(token)
    await page.getByRole('button', { name: 'Use this token' }).click()
    await prompt.waitFor({ state: 'detached' })
    // A reload keeps the token (sessionStorage), so no prompt comes back.
    await page.reload()
    await page.getByRole('link', { name: 'Experiments' }).waitFor()
    await page.waitForTimeout(500)
    expect(await prompt.count()).toBe(0)
    // The token is never written where it would outlive the tab.
    expect(await page.evaluate('JSON.stringify(localStorage)')).not.toContain(token)
    expect((await context.cookies()).map((c) => c.value).join()).not.toContain(token)
    // Another tab (its own session) asks again.
    const other = await studio.open('/w/default/experiments')
    await other.page.getByRole('heading', { name: 'This server asks for a token' }).waitFor()
  })
})
