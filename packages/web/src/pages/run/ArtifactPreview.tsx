import { useEffect, useState, type ReactNode } from 'react'
import type { Artifact } from '@wharf/contract'
import type { WharfClient } from '@wharf/client'
import { DownloadLink } from '../../api/download.js'
import { useApiQuery } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'
import { formatBytes, formatTime } from '../../components/format.js'
import { ErrorState, Loading } from '../../components/States.js'
import { artifactHref } from './api-hrefs.js'
import { parseCsv } from './csv.js'
import { CSV_PREVIEW_ROWS, TEXT_PREVIEW_BYTES, previewKindOf } from './preview-kind.js'

/** The first bytes of a file as text, and whether there was more. */
interface TextHead {
  text: string
  isCut: boolean
}

/** Reads the head of an artifact: a Range request when it is larger than the preview takes. */
async function readTextHead(options: { client: WharfClient; artifact: Artifact; signal: AbortSignal }): Promise<TextHead> {
  const { client, artifact, signal } = options
  const isCut = artifact.size > TEXT_PREVIEW_BYTES
  const response = await client.downloadArtifact(artifact.runId, artifact.path, {
    signal,
    ...(isCut ? { range: { start: 0, end: TEXT_PREVIEW_BYTES - 1 } } : {}),
  })
  const bytes = new Uint8Array(await response.arrayBuffer())
  // A server that ignored the range sent the whole file: keep the head only.
  const head = bytes.length > TEXT_PREVIEW_BYTES ? bytes.subarray(0, TEXT_PREVIEW_BYTES) : bytes
  // `stream: true` holds back a character cut at the end instead of showing a replacement mark.
  return { text: new TextDecoder().decode(head, { stream: isCut }), isCut }
}

/** One artifact: its facts, a download link, and a preview fitting its type. */
export function ArtifactPreview(props: { artifact: Artifact }) {
  const { artifact } = props
  const { workspace } = useSession()
  const kind = previewKindOf(artifact)
  const name = artifact.path.slice(artifact.path.lastIndexOf('/') + 1)
  return (
    <div className="artifact-preview">
      <header className="preview-header">
        <h2 className="mono">{artifact.path}</h2>
        <DownloadLink
          className="btn"
          href={artifactHref({ workspace, runId: artifact.runId, path: artifact.path })}
          filename={name}
        >
          Download
        </DownloadLink>
      </header>
      <dl className="run-facts compact">
        <dt>Size</dt>
        <dd>
          {formatBytes(artifact.size)} <span className="muted">({artifact.size.toLocaleString()} bytes)</span>
        </dd>
        <dt>Type</dt>
        <dd className="mono">{artifact.contentType}</dd>
        <dt>SHA-256</dt>
        <dd className="mono run-break">{artifact.sha256}</dd>
        <dt>Uploaded</dt>
        <dd>{formatTime(artifact.createdAt)}</dd>
      </dl>
      {kind === 'image' && <ImagePreview artifact={artifact} />}
      {(kind === 'text' || kind === 'json' || kind === 'csv') && <TextualPreview artifact={artifact} kind={kind} />}
      {kind === 'none' && (
        <p className="muted preview-none">
          No preview for files of type <span className="mono">{artifact.contentType}</span>; download it to open it.
        </p>
      )}
    </div>
  )
}

function TextualPreview(props: { artifact: Artifact; kind: 'text' | 'json' | 'csv' }) {
  const { artifact, kind } = props
  const head = useApiQuery(['artifact-head', artifact.runId, artifact.path, artifact.sha256], (client, signal) =>
    readTextHead({ client, artifact, signal }),
  )
  if (head.isPending) return <Loading what={`a preview of ${artifact.path}`} />
  if (head.isError)
    return <ErrorState error={head.error} what={`a preview of ${artifact.path}`} retry={() => void head.refetch()} />
  const { text, isCut } = head.data
  const cutNote = isCut && (
    <p className="run-note" role="note">
      Showing the first {formatBytes(TEXT_PREVIEW_BYTES)} of {formatBytes(artifact.size)}; download the file for the rest.
    </p>
  )
  if (artifact.size === 0) return <p className="muted">This file is empty.</p>
  if (kind === 'csv') return <CsvPreview text={text} isCut={isCut} cutNote={cutNote} />
  if (kind === 'json' && !isCut) {
    const pretty = prettyJson(text)
    if (pretty !== undefined) return <pre className="preview-text json-preview">{pretty}</pre>
    return (
      <>
        <p className="run-note" role="note">
          This file is not valid JSON; it is shown as it is.
        </p>
        <pre className="preview-text">{text}</pre>
      </>
    )
  }
  return (
    <>
      {cutNote}
      {kind === 'json' && isCut && <p className="muted">The file is too large to format as a whole, so it is shown as it is.</p>}
      <pre className="preview-text">{text}</pre>
    </>
  )
}

function prettyJson(text: string): string | undefined {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return undefined // not JSON after all: the caller shows the text and says so
  }
}

function CsvPreview(props: { text: string; isCut: boolean; cutNote: ReactNode }) {
  const { rows, complete } = parseCsv(props.text, { maxRows: CSV_PREVIEW_ROWS + 1, isCut: props.isCut })
  const [header = [], ...body] = rows
  const width = rows.reduce((max, row) => Math.max(max, row.length), 0)
  return (
    <>
      {props.cutNote}
      <p className="muted">
        {complete ? `${body.length} rows` : `The first ${body.length} rows`} and {width} columns; the first row is taken as the
        header.
      </p>
      <div className="table-scroll csv-preview">
        <table className="data">
          <thead>
            <tr>
              {Array.from({ length: width }, (_, i) => (
                <th key={i} scope="col">
                  {header[i] ?? ''}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.map((row, r) => (
              <tr key={r}>
                {Array.from({ length: width }, (_, i) => (
                  <td key={i}>{row[i] ?? ''}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}

/** An image: the plain URL without a token (the browser fetches and caches it), a blob URL with one. */
function ImagePreview(props: { artifact: Artifact }) {
  const { artifact } = props
  const { workspace, token } = useSession()
  const href = artifactHref({ workspace, runId: artifact.runId, path: artifact.path })
  const blobUrl = useTokenBlobUrl({ artifact, enabled: token !== undefined })
  const [failed, setFailed] = useState(false)
  const src = token === undefined ? href : blobUrl.url
  if (blobUrl.error !== undefined) return <ErrorState error={blobUrl.error} what={`the image ${artifact.path}`} />
  if (src === undefined) return <Loading what={`the image ${artifact.path}`} />
  if (failed) return <p className="muted">The browser could not show this image; download it to open it.</p>
  return <img className="image-preview" src={src} alt={`Artifact ${artifact.path}`} onError={() => setFailed(true)} />
}

/** Fetches an artifact with the tab's token into a blob URL, revoked when the preview goes away. */
function useTokenBlobUrl(options: { artifact: Artifact; enabled: boolean }): { url?: string; error?: unknown } {
  const { artifact, enabled } = options
  const { client } = useSession()
  const [state, setState] = useState<{ key: string; url?: string; error?: unknown }>({ key: '' })
  const key = `${artifact.runId}\u0000${artifact.path}\u0000${artifact.sha256}`
  useEffect(() => {
    if (!enabled) return
    const controller = new AbortController()
    let url: string | undefined
    client
      .downloadArtifact(artifact.runId, artifact.path, { signal: controller.signal })
      .then((response) => response.blob())
      .then((blob) => {
        url = URL.createObjectURL(blob)
        setState({ key, url })
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setState({ key, error })
      })
    return () => {
      controller.abort()
      if (url !== undefined) URL.revokeObjectURL(url)
    }
  }, [client, artifact.runId, artifact.path, key, enabled])
  return state.key === key ? state : {}
}
