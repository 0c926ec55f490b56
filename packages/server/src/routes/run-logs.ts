import { setTimeout as sleep } from 'node:timers/promises'
import { ROUTES, WharfError, assertWithinLimit, isTerminalStatus, type RunLogChunk } from '@wharf/contract'
import type { RunLogBytes } from '@wharf/store'
import type { AppDeps } from '../deps.js'
import { requestBody } from '../http.js'
import type { BindRoute } from '../route.js'

/** The most a read answers, and its default. */
const MAX_READ_BYTES = 1024 * 1024

/** How often a waiting read asks the store again: the store is the one place replicas agree on. */
const POLL_MS = 100

/** The longest UTF-8 sequence, less one: what a read takes beyond `limit` to finish a character. */
const UTF8_TAIL = 3

/** How many bytes a UTF-8 sequence starting with `lead` has; 1 for ASCII and for bytes that start none. */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0 && lead <= 0xf4) return 4
  if (lead >= 0xe0 && lead <= 0xef) return 3
  if (lead >= 0xc2 && lead <= 0xdf) return 2
  return 1
}

/**
 * How many of `bytes` to answer: at most `limit`, ending at a character boundary. A character cut at
 * the end is held back for the next read, unless nothing more can come (`final`); a first character
 * longer than `limit` is answered whole. Bytes that are no UTF-8 are passed on (and decode as U+FFFD).
 */
export function utf8Boundary(bytes: Buffer, options: { limit: number; final: boolean }): number {
  const take = Math.min(bytes.length, options.limit)
  let lead = take - 1
  while (lead > 0 && take - lead < 4 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead--
  if (lead < 0) return take
  const length = sequenceLength(bytes[lead] ?? 0)
  if (lead + length <= take) return take
  // The last character does not fit in `take` bytes.
  if (lead > 0) return lead
  if (length <= bytes.length) return length
  return options.final ? take : 0
}

function tooLargeAppend(max: number): WharfError {
  return new WharfError(
    'PAYLOAD_TOO_LARGE',
    `an append to a run log is larger than ${max} bytes (server limit "logAppendBytes"); send the log in smaller parts`,
    { details: { limit: 'logAppendBytes', max } },
  )
}

/** Live logs: the runner appends at byte offsets, readers follow with waiting reads; kept after the run ends. */
export function mountRunLogRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config } = deps
  const { limits } = config

  route(ROUTES.listRunLogs, async ({ params: { workspace, runId } }) => ({
    items: await store.listRunLogs({ workspace, runId }),
  }))

  route(ROUTES.appendRunLog, async ({ c, params: { workspace, runId, log }, query }) => {
    const declaredHeader = c.req.header('content-length')
    const declared = declaredHeader === undefined ? undefined : Number(declaredHeader)
    if (declared !== undefined)
      assertWithinLimit(limits, 'logAppendBytes', { what: 'the append size in bytes', actual: declared })
    const chunks: Buffer[] = []
    for await (const chunk of requestBody(c, {
      cap: { max: limits.logAppendBytes, tooLarge: () => tooLargeAppend(limits.logAppendBytes) },
    }) as AsyncIterable<Buffer>) {
      chunks.push(chunk)
    }
    const bytes = Buffer.concat(chunks)
    const { size } = await store.appendRunLog({
      workspace,
      runId,
      name: log,
      offset: query.offset,
      bytes,
      at: new Date().toISOString(),
    })
    return { name: log, size }
  })

  route(ROUTES.readRunLog, async ({ c, params: { workspace, runId, log }, query }) => {
    const offset = query.offset ?? 0
    const limit = Math.min(query.limit ?? MAX_READ_BYTES, MAX_READ_BYTES)
    const deadline = Date.now() + (query.waitMs ?? 0)
    // Stop waiting when the client goes away, or the server stops (it waits for requests in flight).
    const signals = [c.req.raw.signal, ...(deps.closing ? [deps.closing] : [])]
    const read = () => store.readRunLog({ workspace, runId, name: log, offset, limit: limit + UTF8_TAIL })
    const answerable = (got: RunLogBytes): number => {
      const final = isTerminalStatus(got.runStatus) && offset + got.bytes.length === got.size
      return utf8Boundary(got.bytes, { limit, final })
    }
    let got = await read()
    let count = answerable(got)
    // A waiting read: nothing to answer yet, the run still live, time left and the client still there.
    while (count === 0 && !isTerminalStatus(got.runStatus) && Date.now() < deadline && !signals.some((s) => s.aborted)) {
      await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())))
      got = await read()
      count = answerable(got)
    }
    const nextOffset = Math.min(offset, got.size) + count
    const chunk: RunLogChunk = {
      name: log,
      offset,
      nextOffset,
      size: got.size,
      content: got.bytes.subarray(0, count).toString('utf8'),
      runStatus: got.runStatus,
      ended: isTerminalStatus(got.runStatus) && nextOffset >= got.size,
    }
    return chunk
  })
}
