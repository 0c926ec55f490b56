import { isUtf8 } from 'node:buffer'
import { DEFAULT_LIMITS, decodeMsgpackBody, encodeMetricBatch, parseMetricBatch, toJson, type MetricBatch } from '@wharf/contract'
import { compared, median, type Bench, type BenchResult } from './harness.js'

const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
const ITERATIONS = Number(process.env.WHARF_BENCH_WIRE_ITERATIONS ?? 2000)
const NAMES = ['loss', 'accuracy', 'lr', 'grad_norm']

/** A 1,000-point batch as the SDK builds it: four series, values and epoch-millisecond times. */
function batchOf(seed: number): MetricBatch {
  const now = Date.now()
  const series = NAMES.map((name) => ({ name, values: [] as number[], times: [] as number[] }))
  for (let i = 0; i < 1000; i++) {
    const one = series[i % NAMES.length]!
    one.values.push(Math.sin(seed * 1000 + i) * 10)
    one.times.push(now + i)
  }
  return { writerId: `bench-${seed}`, sequence: seed, series }
}

/** The server's JSON read (`parseJsonBytes` in packages/server/src/http.ts): UTF-8 check, decode, parse, surrogate scan. */
function readJson(bytes: Buffer): unknown {
  if (!isUtf8(bytes)) throw new Error('not UTF-8')
  const text = bytes.toString('utf8')
  const value: unknown = JSON.parse(text)
  if (/\\u[dD][89a-fA-F]/.test(text)) throw new Error('unexpected escape')
  return value
}

/** Microseconds per call of `step` over the prepared inputs, median of the rounds. */
function microseconds<T>(inputs: readonly T[], step: (input: T) => unknown): number {
  const perRound: number[] = []
  for (let round = 0; round <= ROUNDS; round++) {
    const started = performance.now()
    for (let i = 0; i < ITERATIONS; i++) step(inputs[i % inputs.length]!)
    // Round 0 warms the JIT up and is not counted.
    if (round > 0) perRound.push(((performance.now() - started) * 1000) / ITERATIONS)
  }
  return median(perRound)
}

/**
 * What one 1,000-point columnar batch costs to write on the client and to read and validate on the
 * server, as JSON and as MessagePack with float64 columns (decision 0029); no HTTP, no store.
 */
export const wireBench: Bench = {
  name: 'wire.metric-batch',
  description: `one 1,000-point batch (4 series) encoded, decoded and validated, JSON against MessagePack; ${ITERATIONS} calls, median of ${ROUNDS}`,
  run() {
    const batches = Array.from({ length: 64 }, (_, seed) => batchOf(seed))
    const jsonBodies = batches.map((batch) => Buffer.from(toJson(batch)))
    const msgpackBodies = batches.map((batch) => encodeMetricBatch(batch))
    const jsonDecoded = jsonBodies.map(readJson)
    const msgpackDecoded = msgpackBodies.map(decodeMsgpackBody)
    const us = {
      jsonEncode: microseconds(batches, (batch) => Buffer.from(toJson(batch))),
      msgpackEncode: microseconds(batches, encodeMetricBatch),
      jsonDecode: microseconds(jsonBodies, readJson),
      msgpackDecode: microseconds(msgpackBodies, decodeMsgpackBody),
      jsonValidate: microseconds(jsonDecoded, (body) => parseMetricBatch(body, DEFAULT_LIMITS)),
      msgpackValidate: microseconds(msgpackDecoded, (body) => parseMetricBatch(body, DEFAULT_LIMITS)),
    }
    const round = (value: number): number => Math.round(value * 10) / 10
    const sizes = { jsonBytes: jsonBodies[0]!.length, msgpackBytes: msgpackBodies[0]!.length }
    const stage = (bench: string, value: number, baseline: number): BenchResult => ({
      ...compared({ bench, unit: 'µs/batch', value, baseline: { name: `${bench}.json`, value: baseline } }),
      value: round(value),
      baselineValue: round(baseline),
    })
    const total = (form: 'json' | 'msgpack'): number => us[`${form}Encode`] + us[`${form}Decode`] + us[`${form}Validate`]
    return Promise.resolve([
      stage('wire.metric-batch.encode', us.msgpackEncode, us.jsonEncode),
      stage('wire.metric-batch.decode', us.msgpackDecode, us.jsonDecode),
      stage('wire.metric-batch.validate', us.msgpackValidate, us.jsonValidate),
      { ...stage('wire.metric-batch', total('msgpack'), total('json')), ...sizes },
    ])
  },
}
