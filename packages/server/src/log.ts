/** Levels of the server log, least to most severe. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** A structured line logger. Values named in `redact` are replaced before anything is written. */
export interface Log {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  /** Masks `secret` in every later line (a datastore credential the server has just opened). */
  redact(secret: string): void
}

/** Creates a logger writing one line per entry to `write` (stderr by default), with secrets masked. */
export function createLog(options: { level?: LogLevel; redact?: string[]; write?: (line: string) => void } = {}): Log {
  const min = LOG_LEVELS.indexOf(options.level ?? 'info')
  const secrets = new Set((options.redact ?? []).filter((s) => s.length > 0))
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'))
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(level) < min) return
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`
    if (fields) {
      for (const [k, v] of Object.entries(fields)) line += ` ${k}=${formatField(v)}`
    }
    for (const secret of secrets) line = line.split(secret).join('***')
    write(line)
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    redact: (secret) => {
      // Too short a value would mask ordinary text without protecting anything.
      if (secret.length >= 8) secrets.add(secret)
    },
  }
}

function formatField(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.stack ?? value.message)
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value) ?? String(value)
}
