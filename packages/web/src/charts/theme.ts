import { useEffect, useState } from 'react'

/** The colours a chart draws with, read from the stylesheet's variables (so light and dark both apply). */
export interface ChartTheme {
  series: string[]
  text: string
  grid: string
}

const SERIES_COLOURS = 8

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const value = style.getPropertyValue(name).trim()
  return value === '' ? fallback : value
}

function readTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement)
  return {
    series: Array.from({ length: SERIES_COLOURS }, (_, i) => cssVar(style, `--series-${i + 1}`, '#1f77b4')),
    text: cssVar(style, '--muted', '#5b6b7b'),
    grid: cssVar(style, '--border', '#d5dde5'),
  }
}

/** The chart colours now, read again when the system switches between light and dark. */
export function useChartTheme(): ChartTheme {
  const [theme, setTheme] = useState(readTheme)
  useEffect(() => {
    const query = window.matchMedia('(prefers-color-scheme: dark)')
    const onChange = () => setTheme(readTheme())
    query.addEventListener('change', onChange)
    return () => query.removeEventListener('change', onChange)
  }, [])
  return theme
}

/** The colour of the `index`-th series (runs beyond eight reuse the palette). */
export function seriesColour(theme: ChartTheme, index: number): string {
  return theme.series[index % theme.series.length] ?? '#1f77b4'
}

/** A colour made see-through, for the min/max band under a line (`#rrggbb` gets an alpha; others are mixed). */
export function translucent(colour: string, alpha: number): string {
  if (/^#[0-9a-f]{6}$/i.test(colour)) {
    const hex = Math.round(alpha * 255)
      .toString(16)
      .padStart(2, '0')
    return `${colour}${hex}`
  }
  return `color-mix(in srgb, ${colour} ${Math.round(alpha * 100)}%, transparent)`
}
