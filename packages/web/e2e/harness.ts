import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { WharfClient } from '@wharf/client'
import { Workspace } from '@wharf/sdk'
import { startTestServer, type TestServer } from '@wharf/server/test-support'
import type { ServerConfigInput } from '@wharf/server'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** The studio build the server serves in these tests (`npm test` builds it first, through `pretest`). */
export const STUDIO_DIR = path.resolve(HERE, '..', 'dist')
/** Where the tests save their screenshots (listed in the closing note; not committed). */
export const SCREENSHOT_DIR = process.env.WHARF_SCREENSHOT_DIR ?? path.resolve(HERE, 'screenshots')

/** Debian's Chromium, or the browser WHARF_CHROMIUM names. */
export const CHROMIUM_PATH = process.env.WHARF_CHROMIUM ?? '/usr/bin/chromium'

/** The flags ARCHITECTURE.md gives for headless Chromium on these machines (the studio bench uses them too). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/**
 * Why the studio tests cannot run here, or undefined when they can. In CI (CI=true) a missing browser
 * or build is a failure, not a skip: `.ci/run` installs Chromium and `npm test` builds the studio.
 */
export function studioSkipReason(): string | undefined {
  let reason: string | undefined
  if (!existsSync(CHROMIUM_PATH)) reason = `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set WHARF_CHROMIUM)`
  else if (!existsSync(path.join(STUDIO_DIR, 'index.html'))) reason = `the studio is not built in ${STUDIO_DIR} (npm run build)`
  if (reason !== undefined) {
    if (process.env.CI === 'true') throw new Error(`the studio end-to-end tests cannot run: ${reason}`)
    console.warn(`skipping the studio end-to-end tests: ${reason}`)
  }
  return reason
}

/** Viewports the studio must be readable at. */
export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 390, height: 844 }

/** A real server serving the built studio, a client on it, and a headless Chromium. */
export interface Studio {
  server: TestServer
  url: string
  client: WharfClient
  /** The SDK on this server (runs logged as a script would), spooling into a folder removed at stop. */
  workspace: Workspace
  browser: Browser
  /**
   * A new page (its own context: own sessionStorage) at `urlPath`. Errors the page throws and console
   * errors are collected in `errors`; tests check it stays empty.
   */
  open(
    urlPath: string,
    options?: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' },
  ): Promise<StudioPage>
  /** Saves a PNG of the page as `<SCREENSHOT_DIR>/<name>.png`. */
  screenshot(page: Page, name: string): Promise<string>
  stop(): Promise<void>
}

export interface StudioPage {
  page: Page
  context: BrowserContext
  /** Uncaught errors and console errors the page produced (the server's refusals included). */
  errors: string[]
}

/** Starts a SQLite server (options as startTestServer's) that serves the studio, and launches Chromium. */
export async function startStudio(options: { authToken?: string; config?: Partial<ServerConfigInput> } = {}): Promise<Studio> {
  const server = await startTestServer('sqlite', {
    ...(options.authToken !== undefined ? { authToken: options.authToken } : {}),
    config: { studioDir: STUDIO_DIR, ...options.config },
  })
  let browser: Browser
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true })
  } catch (error) {
    await server.stop()
    throw error
  }
  const contexts: BrowserContext[] = []
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  const spoolDir = await mkdtemp(path.join(tmpdir(), 'wharf-e2e-spool-'))
  const token = options.authToken !== undefined ? { token: options.authToken } : {}
  return {
    server,
    url: server.url,
    client: new WharfClient({ url: server.url, ...token }),
    workspace: Workspace.connect({ url: server.url, spoolDir, ...token }),
    browser,
    async open(urlPath, openOptions = {}) {
      const context = await browser.newContext({
        viewport: openOptions.viewport ?? DESKTOP,
        colorScheme: openOptions.colorScheme ?? 'light',
        baseURL: server.url,
      })
      contexts.push(context)
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(`page error: ${error.message}`))
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console error: ${message.text()}`)
      })
      await page.goto(urlPath)
      return { page, context, errors }
    },
    async screenshot(page, name) {
      const file = path.join(SCREENSHOT_DIR, `${name}.png`)
      await page.screenshot({ path: file, fullPage: true })
      return file
    },
    async stop() {
      for (const context of contexts) await context.close().catch(() => undefined)
      await browser.close()
      await server.stop()
      await rm(spoolDir, { recursive: true, force: true })
    },
  }
}
