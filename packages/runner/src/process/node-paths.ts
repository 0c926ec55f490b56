import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** tsx's loader as a file URL, resolved from this package (a script's folder has no node_modules). */
export function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
}

/**
 * How to start the runner's bin with Node: the built `dist/bin.js`, or, when this package runs from its
 * TypeScript source (tests, tsx), `src/bin.ts` through tsx with the workspace's source condition.
 */
export function runnerBinArgs(): string[] {
  const fromSource = import.meta.url.endsWith('.ts')
  const bin = fileURLToPath(new URL(fromSource ? '../bin.ts' : '../bin.js', import.meta.url))
  return fromSource ? ['--import', tsxLoaderUrl(), '--conditions=@wharf/source', bin] : [bin]
}
