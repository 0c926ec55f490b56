import { useEffect, useState } from 'react'
import type { WharfClient } from '@wharf/client'
import { isWharfError, type RunLogChunk } from '@wharf/contract'
import { useSession } from '../../api/session.js'

/** How long one read waits on the server for new bytes of a live run's log (below the client's 30 s timeout). */
const WAIT_MS = 20_000
/** How much of a log the page keeps: beyond it the oldest text is dropped (the download has it all). */
export const KEPT_LOG_CHARS = 2 * 1024 * 1024
/** The pause after a failed read before the next try. */
const RETRY_MS = 3000

/** What the page holds of one live log. */
export interface LogTail {
  text: string
  /** Characters dropped from the head to keep the page light. */
  dropped: number
  /** Bytes read so far (the offset of the next read). */
  offset: number
  size: number
  /** True once the run ended and everything was read: nothing more comes. */
  ended: boolean
  /** True until the first answer. */
  loading: boolean
  /** Why the last read failed, while it is being retried. */
  error?: string
}

const INITIAL: LogTail = { text: '', dropped: 0, offset: 0, size: 0, ended: false, loading: true }

/**
 * Follows one log of a run from its start: reads what is there, then waits on the server for more
 * (a long poll) until the run has ended and the last byte was read. A failed read is retried.
 */
export function useLogTail(options: { runId: string; log: string }): LogTail {
  const { runId, log } = options
  const { client } = useSession()
  const [state, setState] = useState<{ key: string; tail: LogTail }>({ key: '', tail: INITIAL })
  const key = `${client.url}\u0000${client.workspace}\u0000${runId}\u0000${log}`
  useEffect(() => {
    const controller = new AbortController()
    const { signal } = controller
    void (async () => {
      let tail: LogTail = INITIAL
      while (!signal.aborted && !tail.ended) {
        let chunk: RunLogChunk
        try {
          chunk = await client.call('readRunLog', {
            params: { runId, log },
            query: { offset: tail.offset, waitMs: tail.loading ? 0 : WAIT_MS },
            signal,
          })
        } catch (error) {
          if (signal.aborted || (isWharfError(error) && error.code === 'ABORTED')) return
          tail = { ...tail, loading: false, error: error instanceof Error ? error.message : String(error) }
          setState({ key, tail })
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
          continue
        }
        let text = tail.text + chunk.content
        let dropped = tail.dropped
        if (text.length > KEPT_LOG_CHARS) {
          // Cut at a line start so the first kept line is whole.
          const from = text.indexOf('\n', text.length - KEPT_LOG_CHARS) + 1
          dropped += from
          text = text.slice(from)
        }
        tail = { text, dropped, offset: chunk.nextOffset, size: chunk.size, ended: chunk.ended, loading: false }
        if (!signal.aborted) setState({ key, tail })
      }
    })()
    return () => controller.abort()
  }, [client, runId, log, key])
  return state.key === key ? state.tail : INITIAL
}

/** Reads a whole log (page after page) as one text, for its download. */
export async function readWholeLog(options: { client: WharfClient; runId: string; log: string }): Promise<string> {
  const { client, runId, log } = options
  let offset = 0
  let text = ''
  for (;;) {
    const chunk = await client.call('readRunLog', { params: { runId, log }, query: { offset } })
    text += chunk.content
    if (chunk.nextOffset >= chunk.size || chunk.nextOffset === offset) return text
    offset = chunk.nextOffset
  }
}
