import { WharfError } from './errors.js'
import type { LimitName, Limits } from './limits.js'

/** A kind of name, the pattern it must match, and the rule in words for error messages. */
export interface NameRule {
  kind: string
  pattern: RegExp
  rule: string
}

/** The naming rules of workspaces, experiments, run ids and datastores. */
export const NAME_RULES = {
  workspace: {
    kind: 'workspace name',
    pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    rule: 'use letters, digits, "_" or "-", starting with a letter or digit (at most 64)',
  },
  experiment: {
    kind: 'experiment name',
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/,
    rule: 'use letters, digits, "_", "-" or ".", starting with a letter or digit (at most 256)',
  },
  runId: {
    kind: 'run id',
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/,
    rule: 'use letters, digits, "_", "-" or ".", starting with a letter or digit (at most 256)',
  },
  datastore: {
    kind: 'datastore name',
    pattern: /^[a-z0-9_]{1,255}$/,
    rule: 'use lowercase letters, digits and "_" (at most 255)',
  },
  /** Never `latest`, a number or `v<number>`: those name versions, so an alias could not be told from one. */
  assetAlias: {
    kind: 'alias',
    pattern: /^(?![Ll][Aa][Tt][Ee][Ss][Tt]$)(?![Vv]?[0-9]+$)[A-Za-z0-9_-]{1,255}$/,
    rule: 'use letters, digits, "_" or "-" (at most 255), and not "latest", a number or v<number>, which name versions',
  },
} as const satisfies Record<string, NameRule>

// C0 and C1 control characters, which no name should carry (they break terminals and logs).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/

/** True when `text` contains a control character (including NUL). */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text)
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** True when `text` holds a lone UTF-16 surrogate: it has no UTF-8 form, and storing it would turn it into U+FFFD. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text)
}

/** Throws INVALID_ARGUMENT when `text` holds a lone UTF-16 surrogate; `what` names it ("metric name \"x\""). */
export function assertWellFormedText(text: string, what: string, field?: string): void {
  if (!hasLoneSurrogate(text)) return
  throw new WharfError(
    'INVALID_ARGUMENT',
    `${what} holds a lone UTF-16 surrogate, which has no UTF-8 form and would be stored as U+FFFD; send well-formed Unicode text`,
    { details: { ...(field !== undefined ? { field } : {}) } },
  )
}

/**
 * Where in a parsed JSON value (keys included) the first string with a lone surrogate sits, as a
 * dotted path (`tags.x`, `points.3.name`); undefined when there is none.
 */
export function findLoneSurrogate(value: unknown, at = ''): string | undefined {
  if (typeof value === 'string') return hasLoneSurrogate(value) ? at : undefined
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findLoneSurrogate(value[i], at === '' ? String(i) : `${at}.${i}`)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const [key, item] of Object.entries(value)) {
    const where = at === '' ? key : `${at}.${key}`
    if (hasLoneSurrogate(key)) return where
    const found = findLoneSurrogate(item, where)
    if (found !== undefined) return found
  }
  return undefined
}

/** Throws INVALID_ARGUMENT unless `value` follows `rule`; the message says what is allowed. */
export function assertName(value: string, rule: NameRule): void {
  if (!rule.pattern.test(value)) {
    throw new WharfError('INVALID_ARGUMENT', `${rule.kind} "${printable(value)}" is not valid: ${rule.rule}`, {
      details: { field: rule.kind, value: printable(value) },
    })
  }
}

/**
 * Throws LIMIT_EXCEEDED when `check.actual` is over `limits[name]`, naming the limit so a user knows
 * which setting to raise.
 */
export function assertWithinLimit<N extends LimitName>(
  limits: Pick<Limits, N>,
  name: N,
  check: { what: string; actual: number },
): void {
  const max = limits[name]
  if (check.actual > max) {
    throw new WharfError(
      'LIMIT_EXCEEDED',
      `${check.what} is ${check.actual}; the limit is ${max} (server limit "${name}"; raise it in the server config if you need more)`,
      { details: { limit: name, max, actual: check.actual } },
    )
  }
}

/** A short, printable form of user input for error messages (control characters escaped, long text cut). */
export function printable(value: string, max = 80): string {
  const escaped = JSON.stringify(value).slice(1, -1)
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped
}
