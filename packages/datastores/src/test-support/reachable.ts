/**
 * Every string reachable from `value` through own properties, hidden (non-enumerable) and symbol-keyed
 * ones included, and through Map and Set entries: what a logger that walks an error could print. Getters
 * are read; one that throws is skipped.
 */
export function reachableText(value: unknown, maxDepth = 12): string {
  const out: string[] = []
  const seen = new Set<object>()
  const visit = (item: unknown, depth: number): void => {
    if (typeof item === 'string') {
      out.push(item)
      return
    }
    if ((typeof item !== 'object' && typeof item !== 'function') || item === null || depth > maxDepth || seen.has(item)) return
    seen.add(item)
    if (item instanceof Map) {
      for (const [k, v] of item) {
        visit(k, depth + 1)
        visit(v, depth + 1)
      }
    }
    if (item instanceof Set) for (const v of item) visit(v, depth + 1)
    if (typeof item === 'function') return
    for (const key of Reflect.ownKeys(item)) {
      let child: unknown
      try {
        child = (item as Record<PropertyKey, unknown>)[key]
      } catch {
        continue
      }
      visit(child, depth + 1)
    }
  }
  visit(value, 0)
  return out.join('\n')
}
