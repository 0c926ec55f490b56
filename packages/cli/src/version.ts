import { createRequire } from 'node:module'

/** The version of the wharf command line, from its package.json. */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version
