import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { WharfError } from '@wharf/contract'
import { createProgress } from './progress.js'

/** One file to fetch: what it is called in messages, where it goes, what it must hash to, how to open it. */
export interface DownloadItem {
  label: string
  relativePath: string
  size: number
  sha256: string
  open: () => Promise<Response>
}

/** What happened to one file. */
export interface DownloadOutcome {
  path: string
  file: string
  size: number
  sha256: string
  /** `downloaded`, or `unchanged` when an identical file (same sha256) was there already. */
  result: 'downloaded' | 'unchanged'
}

const CONCURRENCY = 8

async function sha256OfFile(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r').catch(() => undefined)
  if (!handle) return undefined
  try {
    const hash = createHash('sha256')
    for await (const chunk of handle.createReadStream() as AsyncIterable<Buffer>) hash.update(chunk)
    return hash.digest('hex')
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** Resolves `relative` under `root`, refusing paths that would land outside it. */
export function safeTarget(root: string, relative: string): string {
  const target = path.resolve(root, relative)
  if (target !== root && !target.startsWith(root + path.sep)) {
    throw new WharfError('UNSAFE_PATH', `"${relative}" would be written outside ${root}; refusing it`)
  }
  return target
}

/**
 * Streams one response body to `target` through a temp file, hashing on the way; the target appears
 * only when every byte arrived and the sha256 matches.
 */
export async function downloadOne(item: DownloadItem, options: { target: string; onBytes?: (count: number) => void }): Promise<void> {
  await mkdir(path.dirname(options.target), { recursive: true })
  const temp = `${options.target}.wharf-partial-${process.pid}`
  const response = await item.open()
  if (!response.body) throw new WharfError('INTERNAL', `the server sent no body for ${item.label}`)
  const hash = createHash('sha256')
  let received = 0
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      received += chunk.length
      options.onBytes?.(chunk.length)
      done(null, chunk)
    },
  })
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), meter, createWriteStream(temp))
    const sha256 = hash.digest('hex')
    if (received !== item.size || sha256 !== item.sha256) {
      throw new WharfError(
        'INTERNAL',
        `${item.label} arrived damaged (${received} bytes, sha256 ${sha256}; expected ${item.size} bytes, ${item.sha256}); download it again`,
      )
    }
    await rename(temp, options.target)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

/**
 * Downloads `items` under `root`, eight at a time, with a progress bar on a terminal. Files already
 * there with the same sha256 are left alone; different ones are replaced only with `overwrite`, and
 * that is checked for every file before anything is fetched, so a refusal leaves the folder untouched.
 */
export async function downloadAll(items: readonly DownloadItem[], options: { root: string; overwrite: boolean; progress: boolean }): Promise<DownloadOutcome[]> {
  const root = path.resolve(options.root)
  const plans = await Promise.all(
    items.map(async (item) => {
      const target = safeTarget(root, item.relativePath)
      const existing = await stat(target).catch(() => undefined)
      if (!existing) return { item, target, result: 'downloaded' as const }
      if (!existing.isFile()) {
        throw new WharfError('FILE_EXISTS', `${target} exists and is not a file; move it away or download into another folder with -d`)
      }
      if (existing.size === item.size && (await sha256OfFile(target)) === item.sha256) return { item, target, result: 'unchanged' as const }
      if (!options.overwrite) {
        throw new WharfError('FILE_EXISTS', `${target} exists with different content; pass --overwrite to replace it, or download into another folder with -d`, {
          details: { file: target },
        })
      }
      return { item, target, result: 'downloaded' as const }
    }),
  )
  const todo = plans.filter((plan) => plan.result === 'downloaded')
  const progress = createProgress({
    title: 'Downloading',
    totalBytes: todo.reduce((sum, plan) => sum + plan.item.size, 0),
    totalFiles: todo.length,
    enabled: options.progress && todo.length > 0,
  })
  let next = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const plan = todo[next++]
      if (!plan) break
      try {
        await downloadOne(plan.item, { target: plan.target, onBytes: (count) => progress.addBytes(count) })
        progress.fileDone()
      } catch (error) {
        errors.push(error)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, todo.length) }, worker))
  } finally {
    progress.stop()
  }
  if (errors.length > 0) throw errors[0]
  return plans.map(({ item, target, result }) => ({ path: item.relativePath, file: target, size: item.size, sha256: item.sha256, result }))
}
