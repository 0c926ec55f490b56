// JSON.stringify writes -0 as 0. A metric value of -0 must come back as -0 (JSON.parse reads `-0`
// as -0), so -0 is written through a stand-in string and the stand-in turned into `-0` afterwards. The
// stand-in starts with a lone surrogate, which no stored text can hold (the server refuses them).
const NEGATIVE_ZERO = '\uD800-0'
const NEGATIVE_ZERO_JSON = JSON.stringify(NEGATIVE_ZERO)

/** JSON text of `value`, like JSON.stringify, except that -0 is written as `-0` rather than `0`. */
export function toJson(value: unknown): string {
  let found = false
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (item === 0 && Object.is(item, -0)) {
      found = true
      return NEGATIVE_ZERO
    }
    return item
  })
  return found ? text.replaceAll(NEGATIVE_ZERO_JSON, '-0') : text
}
