import { REGISTRY_TAGS, WharfError, printable } from '@wharf/contract'

/** The registry's own tags (contract `REGISTRY_TAGS`): no API may set or remove them. */
const RESERVED: ReadonlySet<string> = new Set(Object.values(REGISTRY_TAGS))

/** INVALID_ARGUMENT when a tag key given to set or remove is one the registry keeps. */
export function assertNoRegistryTags(keys: Iterable<string>): void {
  for (const key of keys) {
    if (RESERVED.has(key)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `tag "${printable(key)}" is kept by the model registry (where this version came from) and cannot be set or removed; use another key`,
        { details: { field: 'tags', key } },
      )
    }
  }
}
