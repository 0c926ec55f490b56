// TEMPORARY stand-in with the final interface; replaced by the compact codec (branch `codec`).
export interface ChunkPoints {
  length: number
  steps: Float64Array
  seqs: Float64Array
  times: Float64Array
  values: Float64Array
  texts: (string | null)[] | null
}

export function encodeChunk(points: ChunkPoints): Uint8Array {
  const n = points.length
  const head = Buffer.from(JSON.stringify({ n, texts: points.texts }))
  const out = Buffer.alloc(4 + head.length + n * 32)
  out.writeUInt32LE(head.length, 0)
  head.copy(out, 4)
  let o = 4 + head.length
  for (const arr of [points.steps, points.seqs, points.times, points.values]) {
    for (let i = 0; i < n; i++, o += 8) out.writeDoubleLE(arr[i] as number, o)
  }
  return out
}

export function decodeChunk(bytes: Uint8Array, fields: { times?: boolean; texts?: boolean } = {}): ChunkPoints {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const len = buf.readUInt32LE(0)
  const head = JSON.parse(buf.subarray(4, 4 + len).toString()) as { n: number; texts: (string | null)[] | null }
  const n = head.n
  let o = 4 + len
  const arrs = [0, 1, 2, 3].map(() => {
    const a = new Float64Array(n)
    for (let i = 0; i < n; i++, o += 8) a[i] = buf.readDoubleLE(o)
    return a
  })
  return {
    length: n,
    steps: arrs[0] as Float64Array,
    seqs: arrs[1] as Float64Array,
    times: fields.times === false ? new Float64Array(0) : (arrs[2] as Float64Array),
    values: arrs[3] as Float64Array,
    texts: fields.texts === false ? null : head.texts,
  }
}
