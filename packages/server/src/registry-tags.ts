import { WharfError, printable } from '@wharf/contract'

/**
 * Tags the MLflow model registry keeps on an asset version: the `source` a model version was registered
 * from and its logged model's id. They describe where the files came from, so no API may set or remove
 * them after the fact (the MLflow API refuses them in its own words).
 */
export const REGISTRY_TAGS = {
  source: 'mlflow.registry.source',
  modelId: 'mlflow.registry.modelId',
} as const

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
