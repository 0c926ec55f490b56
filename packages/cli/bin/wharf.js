#!/usr/bin/env node
// The `wharf` command's entry. npm links bins when `npm install` runs, before anything is built, and
// skips a bin whose file does not exist yet; this committed file is always there, so `npx wharf`
// works in a fresh clone once `npm run build` (or `npm start`) has built dist/.
import { existsSync } from 'node:fs'
import process from 'node:process'
import { URL } from 'node:url'

const built = new URL('../dist/bin.js', import.meta.url)
if (existsSync(built)) {
  await import(built.href)
} else {
  process.stderr.write(
    'wharf: error: the wharf command is not built yet; run "npm run build" in the Wharf clone, then try again\n',
  )
  process.exitCode = 1
}
