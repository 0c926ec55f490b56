import type { Artifact } from '@wharf/contract'

/** How the studio previews an artifact. */
export const PREVIEW_KINDS = ['image', 'json', 'csv', 'text', 'none'] as const
export type PreviewKind = (typeof PREVIEW_KINDS)[number]

/** How much of a text file the preview reads (a Range request; the rest is a download away). */
export const TEXT_PREVIEW_BYTES = 256 * 1024
/** How many rows of a CSV file the preview shows. */
export const CSV_PREVIEW_ROWS = 500

const TEXT_EXTENSIONS = new Set([
  'txt',
  'log',
  'md',
  'rst',
  'py',
  'js',
  'mjs',
  'cjs',
  'ts',
  'tsx',
  'jsx',
  'sh',
  'yaml',
  'yml',
  'toml',
  'ini',
  'cfg',
  'conf',
  'xml',
  'html',
  'css',
  'r',
  'sql',
  'jsonl',
  'ndjson',
  'tsv',
  'out',
  'err',
  'env',
  'gitignore',
  'dockerfile',
])
const IMAGE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp', 'ico', 'avif', 'svg'])

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase()
  const dot = name.lastIndexOf('.')
  return dot < 0 ? name : name.slice(dot + 1)
}

/** The preview an artifact gets, from its content type and, failing that, its extension. */
export function previewKindOf(artifact: Pick<Artifact, 'path' | 'contentType'>): PreviewKind {
  const type = artifact.contentType.toLowerCase().split(';')[0]?.trim() ?? ''
  const ext = extensionOf(artifact.path)
  if (type.startsWith('image/') || IMAGE_EXTENSIONS.has(ext)) return 'image'
  if (type === 'application/json' || type.endsWith('+json') || ext === 'json') return 'json'
  if (type === 'text/csv' || ext === 'csv') return 'csv'
  if (type.startsWith('text/') || TEXT_EXTENSIONS.has(ext)) return 'text'
  return 'none'
}
