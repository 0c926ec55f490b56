import { toWireNumber, type MetricSeriesIn } from '@wharf/contract'

/**
 * A metric batch being filled, in the columnar wire form: one series per metric name in logging order.
 * A name gets a second series when its points switch between given and server-assigned steps, since a
 * `steps` column is all-or-nothing; the server reads series in order, so the order per name is kept.
 */
export class ColumnBatch {
  readonly sequence: number
  readonly series: MetricSeriesIn[] = []
  #points = 0
  readonly #lastByName = new Map<string, MetricSeriesIn>()

  constructor(sequence: number) {
    this.sequence = sequence
  }

  /** Points added so far. */
  get points(): number {
    return this.#points
  }

  /** Appends one point whose name and value were validated; `step` undefined lets the server pick the next. */
  // eslint-disable-next-line max-params -- called once per logged point: no options object to allocate
  add(name: string, value: number | string, step: number | undefined, time: number): void {
    let series = this.#lastByName.get(name)
    if (series === undefined || (series.steps === undefined) !== (step === undefined)) {
      series = { name, times: [] }
      if (step !== undefined) series.steps = []
      this.series.push(series)
      this.#lastByName.set(name, series)
    }
    const times = series.times as number[]
    const count = times.length
    if (typeof value === 'string') {
      if (series.texts === undefined) series.texts = new Array<string | null>(count).fill(null)
      series.texts.push(value)
      series.values?.push(null)
    } else {
      if (series.values === undefined) series.values = new Array<null>(count).fill(null)
      series.values.push(Number.isFinite(value) ? value : toWireNumber(value))
      series.texts?.push(null)
    }
    if (step !== undefined) series.steps?.push(step)
    times.push(time)
    this.#points++
  }
}

/** How many points a list of series holds. */
export function countSeriesPoints(series: readonly MetricSeriesIn[]): number {
  let points = 0
  for (const one of series) points += one.values?.length ?? one.texts?.length ?? 0
  return points
}
