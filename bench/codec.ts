import { decodeChunk, encodeChunk, type ChunkPoints } from '../packages/store/src/series/codec.js'
import { compared, median, type Bench, type BenchResult } from './harness.js'
import { seededRandom as createRandom } from '@wharf/contract/test-support'

const POINTS = 1024
const CHUNKS = 16
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 7)
// Each timed pass decodes about this many points, long enough for the timer and short enough to repeat.
const POINTS_PER_PASS = 2_000_000

type Shape = (seed: number) => ChunkPoints

function emptyChunk(): ChunkPoints {
  return {
    length: POINTS,
    steps: new Float64Array(POINTS),
    seqs: new Float64Array(POINTS),
    times: new Float64Array(POINTS),
    values: new Float64Array(POINTS),
    texts: null,
  }
}

/** Steps 0..1023 logged in order, 5 ms apart with ±1 ms on a quarter of them, values from `value`. */
function inOrder(value: (i: number, random: () => number) => number): Shape {
  return (seed) => {
    const random = createRandom(seed)
    const chunk = emptyChunk()
    const start = 1_764_000_000_000 + seed * 60_000
    for (let i = 0; i < POINTS; i++) {
      chunk.steps[i] = i
      chunk.seqs[i] = 10_000 + i
      chunk.times[i] = start + i * 5 + (random() < 0.25 ? (random() < 0.5 ? -1 : 1) : 0)
      chunk.values[i] = value(i, random)
    }
    return chunk
  }
}

/** A float32 training loss (as PyTorch's loss.item() gives): a decaying curve with about 1% noise. */
const realistic = inOrder((i, random) => Math.fround(2 * Math.exp(-i / 300) + 0.5 + (random() - 0.5) * 0.02))

/** Points from several writers: random step gaps and repeats, arrival order (seqs, times) shuffled. */
const outOfOrder: Shape = (seed) => {
  const random = createRandom(seed)
  const chunk = emptyChunk()
  const arrival = Array.from({ length: POINTS }, (_, i) => i)
  for (let i = POINTS - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[arrival[i], arrival[j]] = [arrival[j]!, arrival[i]!]
  }
  let step = 0
  for (let i = 0; i < POINTS; i++) {
    step += Math.floor(random() * 3)
    chunk.steps[i] = step
  }
  for (let from = 0; from < POINTS;) {
    let to = from + 1
    while (to < POINTS && chunk.steps[to] === chunk.steps[from]) to++
    arrival
      .slice(from, to)
      .sort((a, b) => a - b)
      .forEach((seq, k) => (arrival[from + k] = seq))
    from = to
  }
  for (let i = 0; i < POINTS; i++) {
    chunk.seqs[i] = arrival[i]!
    chunk.times[i] = 1_764_000_000_000 + arrival[i]! * 5
    chunk.values[i] = Math.fround(1 / (1 + chunk.steps[i]! / 100) + random() * 0.01)
  }
  return chunk
}

const SHAPES: Record<string, Shape> = {
  realistic,
  'doubles-sin': inOrder((i) => Math.sin(i)),
  constant: inOrder(() => 0.5),
  'lr-schedule': inOrder((i) => 0.001 * 0.99 ** Math.floor(i / 100)),
  'out-of-order': outOfOrder,
}

function bytesPerPoint(name: string, shape: Shape): BenchResult {
  let bytes = 0
  for (let seed = 1; seed <= CHUNKS; seed++) bytes += encodeChunk(shape(seed)).length
  const value = bytes / (CHUNKS * POINTS)
  // Against what a row per point would hold as four float64 columns (step, seq, time, value).
  return {
    bench: `store.codec.size.${name}`,
    value: Math.round(value * 100) / 100,
    unit: 'bytes/point',
    baseline: 'four float64 a point',
    baselineValue: 32,
    ratio: Math.round((value / 32) * 1000) / 1000,
  }
}

/** CPU seconds this process has used (user and system, all its threads). */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

/**
 * Points a second of `work`, run over the chunks until POINTS_PER_PASS points; median of ROUNDS. Timed in
 * CPU seconds, not wall-clock: the machines that run this are shared (a load average of 18 on 2 cores was
 * seen), which made wall-clock rates 4 times lower and changing from run to run. The baseline is timed the
 * same way.
 */
function rate(work: (chunk: number) => void): number {
  const calls = Math.ceil(POINTS_PER_PASS / POINTS)
  for (let c = 0; c < calls; c++) work(c % CHUNKS) // warm up the optimizing compiler
  const rates: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const started = cpuSeconds()
    for (let c = 0; c < calls; c++) work(c % CHUNKS)
    rates.push((calls * POINTS) / (cpuSeconds() - started))
  }
  return median(rates)
}

/** A rate against the copy, with the ratio to 4 decimals (the copy is hundreds of times faster). */
function againstCopy(bench: string, value: number, copy: number): BenchResult {
  const result = compared({
    bench,
    unit: 'points/s',
    value,
    baseline: { name: 'Float64Array.set of as many doubles', value: copy },
  })
  return { ...result, ratio: Math.round((value / copy) * 10_000) / 10_000 }
}

/** Bytes per point of each chunk shape, and encode/decode rates of the realistic one against a plain copy. */
export const codecBench: Bench = {
  name: 'store.codec',
  description: `metric chunk codec: bytes per point of ${Object.keys(SHAPES).length} shapes; encode and decode rates of ${POINTS}-point realistic chunks, median of ${ROUNDS}, against Float64Array.set of as many doubles`,
  run() {
    const results = Object.entries(SHAPES).map(([name, shape]) => bytesPerPoint(name, shape))
    const chunks = Array.from({ length: CHUNKS }, (_, i) => realistic(i + 1))
    const blobs = chunks.map(encodeChunk)
    const target = new Float64Array(POINTS)
    let sink = 0
    const copy = rate((c) => {
      target.set(chunks[c]!.values)
      sink += target[c]!
    })
    const withoutTimes = rate((c) => {
      sink += decodeChunk(blobs[c]!, { times: false, texts: false }).values[c]!
    })
    const withTimes = rate((c) => {
      sink += decodeChunk(blobs[c]!).times[c]!
    })
    const encode = rate((c) => {
      sink += encodeChunk(chunks[c]!).length
    })
    if (Number.isNaN(sink)) throw new Error('the benchmark lost its results')
    results.push(
      againstCopy('store.codec.decode.steps-seqs-values', withoutTimes, copy),
      againstCopy('store.codec.decode.all', withTimes, copy),
      againstCopy('store.codec.encode', encode, copy),
    )
    return Promise.resolve(results)
  },
}
