const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

/**
 * Bytes as people read them, in binary units with the unit chosen by size: `512 B`, `1.5 KiB`,
 * `23.0 MiB`, `118 GiB`. Every size Wharf prints (tables, progress bars, summaries) goes through here,
 * so one output never mixes MB with MiB.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Number.isFinite(bytes) ? Math.max(0, Math.round(bytes)) : 0} B`
  let value = bytes / 1024
  let unit: (typeof UNITS)[number] = UNITS[0]
  // 1023.6 KiB would round to "1024 KiB": move up a unit a little early and print "1.0 MiB".
  for (const next of UNITS.slice(1)) {
    if (value < 1023.5) break
    value /= 1024
    unit = next
  }
  return `${value >= 99.95 ? Math.round(value) : value.toFixed(1)} ${unit}`
}
