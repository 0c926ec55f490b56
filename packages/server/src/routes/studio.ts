import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Context, Hono } from 'hono'
import mime from 'mime-types'
import { API_PREFIX } from '@wharf/contract'
import type { AppEnv } from '../http.js'

/** One file of the studio build, held in memory (the build is a few hundred KB). */
interface StudioFile {
  body: Uint8Array
  /** The body gzipped, when that makes it smaller (scripts, styles, the page). */
  gzipped: Uint8Array | undefined
  contentType: string
  /** Vite names built assets by their content hash: such a file never changes under its name. */
  immutable: boolean
}

/**
 * The studio's page: scripts and styles from this server only; data from the API on the same origin;
 * images also from blob: and data: URLs (artifact previews). No frames, no plugins, no other origin.
 */
const STUDIO_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ')

const PLACEHOLDER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wharf</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
code{background:#8882;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Wharf</h1><p>The server is running, but the studio is not built in this installation.</p>
<p>In a clone of the repository, <code>npm run build</code> builds it (<code>npm start</code> does that first).</p>
<ul><li>API: <a href="${API_PREFIX}/health"><code>${API_PREFIX}</code></a></li>
<li>OpenAPI document: <a href="${API_PREFIX}/openapi.json"><code>${API_PREFIX}/openapi.json</code></a></li></ul></body></html>`

/** Where the studio build is: `dist` of the `@wharf/web` package, when it has been built; else undefined. */
export function defaultStudioDir(): string | undefined {
  try {
    const packageJson = createRequire(import.meta.url).resolve('@wharf/web/package.json')
    const dir = path.join(path.dirname(packageJson), 'dist')
    return existsSync(path.join(dir, 'index.html')) ? dir : undefined
  } catch {
    return undefined // @wharf/web is not installed beside the server
  }
}

/** Every file under `dir`, by its URL path (`/index.html`, `/assets/index-3f2a.js`). Source maps stay out. */
function loadStudio(dir: string): Map<string, StudioFile> {
  const files = new Map<string, StudioFile>()
  const walk = (folder: string, prefix: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name)
      const urlPath = `${prefix}/${entry.name}`
      if (entry.isDirectory()) walk(full, urlPath)
      else if (entry.isFile() && !entry.name.endsWith('.map')) {
        const body = readFileSync(full)
        const contentType = mime.contentType(path.extname(entry.name)) || 'application/octet-stream'
        const compressible = /^(text\/|application\/(javascript|json)|image\/svg)/.test(contentType)
        const gzipped = compressible && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined
        files.set(urlPath, { body, gzipped, contentType, immutable: prefix === '/assets' })
      }
    }
  }
  walk(dir, '')
  return files
}

function sendFile(c: Context<AppEnv>, file: StudioFile, headers: Record<string, string>): Response {
  const gzip = file.gzipped !== undefined && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')
  const body = gzip ? file.gzipped! : file.body
  return new Response(body as Uint8Array<ArrayBuffer>, {
    headers: {
      'content-type': file.contentType,
      'content-length': String(body.length),
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...headers,
    },
  })
}

/**
 * Serves the studio: its built files, and its page for every other GET outside the API (the studio's
 * own routes: /w/default/runs/…), so a shared link or a reload opens the right page. Mounted before the
 * token check: the page and its scripts hold no data; the studio asks for the token and sends it itself.
 * Without a build, the root answers a page that says how to build it.
 */
export function mountStudio(app: Hono<AppEnv>, options: { dir: string | undefined }): void {
  let files: Map<string, StudioFile> | undefined
  const studio = (): Map<string, StudioFile> | undefined => {
    if (options.dir === undefined) return undefined
    files ??= loadStudio(options.dir)
    return files
  }
  app.get('/*', async (c, next) => {
    const urlPath = c.req.path
    // The API's paths, and the MLflow API's (/api/2.0/…, /ajax-api/…), are never the studio's.
    if (urlPath === API_PREFIX || urlPath.startsWith('/api/') || urlPath.startsWith('/ajax-api/')) return next()
    const built = studio()
    if (built === undefined) return urlPath === '/' ? c.html(PLACEHOLDER_PAGE) : next()
    const file = built.get(urlPath)
    if (file !== undefined && urlPath !== '/index.html') return sendFile(c, file, {})
    // A missing hashed asset is a stale page asking for an old build's file: a 404, not the page.
    if (urlPath.startsWith('/assets/')) return next()
    const page = built.get('/index.html')
    if (page === undefined) return next()
    return sendFile(c, page, {
      'content-security-policy': STUDIO_CSP,
      'referrer-policy': 'same-origin',
      'x-frame-options': 'DENY',
    })
  })
}
