// The committed SQLite database made by the 0004 engine (row per point), and the batches it was made
// from, so a test can open a copy with today's store and check that every point survived the upgrade.
import { fileURLToPath } from 'node:url'
import type { MetricPointIn } from '@wharf/contract'

/** The committed fixture; build-0004-metrics.ts made it. Tests open copies, never the file itself. */
export const FIXTURE_PATH = fileURLToPath(new URL('./0004-metrics.sqlite', import.meta.url))

/** The run of the fixture holding the metrics. */
export const FIXTURE_RUN = { workspace: 'fixture', runId: 'fixture-run' } as const

/** One batch as it was sent to the 0004 store. */
export interface FixtureBatch {
  points: MetricPointIn[]
  writerId?: string
  sequence?: number
  receivedAt: number
}

const T0 = Date.parse('2026-01-01T00:00:00.000Z')

/** Odd values at fixed places: NaN (two spellings), ±Infinity, -0 and 0. */
function lossValue(i: number): MetricPointIn['value'] {
  const specials: Array<MetricPointIn['value']> = ['NaN', Number.NaN, 'Infinity', '-Infinity', -0, 0]
  return i % 11 === 0 ? specials[(i / 11) % specials.length] : Math.round(Math.cos(i) * 1e6) / 1e3
}

/**
 * The fixture's batches, about 400 points: `loss` with steps out of order and repeated, non-finite
 * values and -0; `acc` numbered by the server for one writer; `notes` text; `mixed` numbers and text.
 * Steps are explicit or come from a single writer, so any engine numbers them alike.
 */
export function fixtureBatches(): FixtureBatch[] {
  const batches: FixtureBatch[] = []
  for (let b = 0; b < 6; b++) {
    const points: MetricPointIn[] = []
    for (let i = 0; i < 50; i++) {
      const n = b * 50 + i
      points.push({ name: 'loss', step: (n * 37) % 211, value: lossValue(n), time: T0 + ((n * 7919) % 10_000) })
      if (i % 4 === 0) points.push({ name: 'acc', value: n / 300 })
      if (i % 10 === 3) points.push({ name: 'notes', text: `note ${n} ☃`, step: n % 3 })
      if (i % 9 === 5)
        points.push(n % 2 === 0 ? { name: 'mixed', value: -n, step: n % 5 } : { name: 'mixed', text: `m${n}`, step: n % 5 })
    }
    batches.push({ points, writerId: 'sdk', sequence: b, receivedAt: T0 + b * 60_000 })
  }
  return batches
}
