import { monotonicFactory } from 'ulid'

const newUlid = monotonicFactory()

/**
 * A new run id: a lowercase ULID, so ids sort by creation time. The server makes them, and so does
 * the SDK for a run logged offline (created on the server later by `wharf sync` with this id).
 */
export function newRunId(): string {
  return newUlid().toLowerCase()
}
