import { WharfError } from './errors.js'
import type { LimitName } from './limits.js'

/** Workspace names: a letter or digit, then letters, digits, `_` or `-`; at most 64 characters. */
export const WORKSPACE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/
/** Experiment names: a letter or digit, then letters, digits, `_`, `-` or `.`; at most 256 characters. */
export const EXPERIMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/
/** Run ids: a letter or digit, then letters, digits, `_`, `-` or `.`; at most 256 characters. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/
/** Datastore names: lowercase letters, digits and `_`; at most 255 characters. */
export const DATASTORE_NAME_PATTERN = /^[a-z0-9_]{1,255}$/

// C0 and C1 control characters, which no name should carry (they break terminals and logs).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/

/** True when `text` contains a control character (including NUL). */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text)
}

/** Throws INVALID_ARGUMENT unless `value` matches `pattern`; the message says what is allowed. */
export function assertName(kind: string, value: string, pattern: RegExp, rule: string): void {
  if (!pattern.test(value)) {
    throw new WharfError('INVALID_ARGUMENT', `${kind} "${printable(value)}" is not valid: ${rule}`, {
      details: { field: kind, value: printable(value) },
    })
  }
}

/** Throws LIMIT_EXCEEDED when `actual` is over `max`, naming the limit so a user knows what to raise. */
export function assertWithinLimit(what: string, actual: number, max: number, limit: LimitName): void {
  if (actual > max) {
    throw new WharfError(
      'LIMIT_EXCEEDED',
      `${what} is ${actual}; the limit is ${max} (server limit "${limit}"; raise it in the server config if you need more)`,
      { details: { limit, max, actual } },
    )
  }
}

/** A short, printable form of user input for error messages (control characters escaped, long text cut). */
export function printable(value: string, max = 80): string {
  const escaped = JSON.stringify(value).slice(1, -1)
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped
}
