/**
 * Chart reads wait their turn here, lowest priority number first, a few at a time: the charts on
 * screen (and the one just zoomed) are read before those below the fold, so the first chart paints
 * without waiting for every metric.
 */
const CONCURRENT = 3
/**
 * A read at this priority or below (the first chart on screen, the chart just zoomed) runs alone: the
 * server answers one read at a time, so reads beside it would only delay the one the user waits for.
 */
const LEADING_PRIORITY = 0

interface Waiting {
  priority: number
  order: number
  start: () => void
}

const waiting: Waiting[] = []
let active = 0
let order = 0
let dispatchQueued = false
let leading = false

function dispatch(): void {
  dispatchQueued = false
  waiting.sort((a, b) => a.priority - b.priority || a.order - b.order)
  while (!leading && active < CONCURRENT && waiting.length > 0) {
    const next = waiting[0] as Waiting
    if (next.priority <= LEADING_PRIORITY) {
      if (active > 0) return // it starts when the reads already running are done
      leading = true
    }
    waiting.shift()
    next.start()
  }
}

/** Runs `work` when its turn comes; a read aborted while waiting never starts and rejects with the abort reason. */
export function scheduleRead<T>(options: { priority: number; signal: AbortSignal; work: () => Promise<T> }): Promise<T> {
  const { priority, signal, work } = options
  return new Promise<T>((resolve, reject) => {
    const entry: Waiting = {
      priority,
      order: order++,
      start: () => {
        signal.removeEventListener('abort', onAbort)
        const isLeading = leading
        active++
        work()
          .then(resolve, reject)
          .finally(() => {
            active--
            if (isLeading) leading = false
            dispatch()
          })
      },
    }
    const onAbort = () => {
      const at = waiting.indexOf(entry)
      if (at >= 0) waiting.splice(at, 1)
      reject(signal.reason instanceof Error ? signal.reason : new Error('the chart read was aborted'))
    }
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    if (priority <= LEADING_PRIORITY && active === 0 && !leading) {
      // Nothing to sort it against and nothing running: it goes now, not after the render in progress.
      leading = true
      entry.start()
      return
    }
    waiting.push(entry)
    // Reads asked in the same moment (every chart of a page mounting) are sorted together first.
    if (!dispatchQueued) {
      dispatchQueued = true
      queueMicrotask(dispatch)
    }
  })
}
