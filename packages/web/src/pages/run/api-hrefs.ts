import { encodePath } from '@wharf/client'
import { ROUTES, routePath } from '@wharf/contract'

/** The server path that downloads one artifact of a run (for DownloadLink and image previews). */
export function artifactHref(target: { workspace: string; runId: string; path: string }): string {
  const base = routePath(ROUTES.downloadArtifact.path, { workspace: target.workspace, runId: target.runId })
  return base.slice(0, -1) + encodePath(target.path)
}

/** The server path that downloads one file content of a snapshot, from the datastore that keeps it. */
export function snapshotBlobHref(target: { workspace: string; sha256: string; datastore: string }): string {
  const base = routePath(ROUTES.downloadSnapshotBlob.path, { workspace: target.workspace, sha256: target.sha256 })
  return `${base}?datastore=${encodeURIComponent(target.datastore)}`
}
