import type { DatastoreDriver, FileInfo } from '../driver.js'
import type { DatastoreKey } from '../key.js'

/** What is stored under the keys of an upload. */
export interface RemoteIndex {
  /** The stored file's info, or undefined when there is none; throws when it cannot be learned. */
  lookup(key: DatastoreKey): Promise<FileInfo | undefined>
}

/** Up to this many keys, a stat each is cheaper than a listing. */
const STAT_AT_MOST = 8

/**
 * Learns which of `keys` exist. For a few keys, stats each now (rejecting only when every stat fails, so
 * an unreachable storage rejects the transfer and a failure of one key fails only that file). For more,
 * lists their longest common folder once; when that folder turns out to hold far more than the keys
 * (`keys × 20 + 10,000` entries), it stops listing and stats each key when it is reached instead.
 * A failure to list rejects.
 */
export async function learnRemote(
  driver: DatastoreDriver,
  keys: readonly DatastoreKey[],
  options: { signal?: AbortSignal | undefined } = {},
): Promise<RemoteIndex> {
  const { signal } = options
  const statOne = (key: DatastoreKey): Promise<FileInfo | undefined> => driver.stat(key, signal ? { signal } : {})
  if (keys.length <= STAT_AT_MOST) {
    const settled = await Promise.allSettled(keys.map(statOne))
    const first = settled[0]
    if (first?.status === 'rejected' && settled.every((outcome) => outcome.status === 'rejected')) throw first.reason
    const known = new Map(keys.map((key, i) => [key, settled[i]]))
    return {
      lookup: async (key) => {
        const outcome = known.get(key)
        if (outcome === undefined) return statOne(key)
        if (outcome.status === 'rejected') throw outcome.reason
        return outcome.value
      },
    }
  }
  const wanted = new Set<string>(keys)
  const found = new Map<string, FileInfo>()
  const limit = keys.length * 20 + 10_000
  let listed = 0
  for await (const info of driver.list({ prefix: commonFolderPrefix(keys), ...(signal ? { signal } : {}) })) {
    if (wanted.has(info.key)) found.set(info.key, info)
    if (++listed > limit) return { lookup: statOne }
  }
  return { lookup: (key) => Promise.resolve(found.get(key)) }
}

/**
 * The longest common prefix of the keys, cut back to a `/`: a folder prefix is always a valid listing
 * prefix, where a cut inside a name might not be (`a/.` of `a/.x` and `a/.y`, or half a surrogate pair).
 */
export function commonFolderPrefix(keys: readonly string[]): string {
  const first = keys[0]
  if (first === undefined) return ''
  let length = first.length
  for (const key of keys) {
    let i = 0
    while (i < length && i < key.length && key.charCodeAt(i) === first.charCodeAt(i)) i++
    length = i
  }
  return first.slice(0, first.lastIndexOf('/', length - 1) + 1)
}
