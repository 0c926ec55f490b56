// The README quick start's last step, as a user takes it: open the server's URL in a browser. Headless
// Chromium opens the root, finds the experiment "train", and opens the run page `history last` printed.
// Usage: node .ci/studio-check.mjs <server url> <run page url> <run display name>
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'

const [serverUrl, runUrl, runName] = process.argv.slice(2)
const executablePath = process.env.WHARF_CHROMIUM ?? '/usr/bin/chromium'
if (!existsSync(executablePath)) {
  if (process.env.CI === 'true') throw new Error(`no Chromium at ${executablePath}; .ci/run installs the chromium package`)
  console.log(`skipped: the studio check needs Chromium at ${executablePath} (apt-get install -y chromium)`)
  process.exit(0)
}
const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
})
try {
  const page = await browser.newPage()
  const errors = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(serverUrl)
  await page.getByRole('link', { name: 'train', exact: true }).first().waitFor({ timeout: 20_000 })
  await page.goto(runUrl)
  await page.getByRole('heading', { name: runName }).waitFor({ timeout: 20_000 })
  if (errors.length > 0) throw new Error(`the studio threw: ${errors.join('; ')}`)
  console.log(`the studio shows experiment "train" at ${serverUrl} and run "${runName}" at ${runUrl}`)
} finally {
  await browser.close()
}
