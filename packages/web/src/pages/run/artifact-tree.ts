import type { Artifact } from '@wharf/contract'

/** A folder of the artifact tree: its path (`''` for the root), subfolders and files, both by name. */
export interface ArtifactFolder {
  kind: 'folder'
  name: string
  path: string
  folders: ArtifactFolder[]
  files: Artifact[]
  /** Files anywhere below, and their bytes. */
  fileCount: number
  size: number
}

/** Builds the folder tree of a run's artifacts from their flat paths. */
export function buildArtifactTree(artifacts: readonly Artifact[]): ArtifactFolder {
  const root = emptyFolder('', '')
  const byPath = new Map<string, ArtifactFolder>([['', root]])
  for (const artifact of artifacts) {
    const segments = artifact.path.split('/')
    let folder = root
    for (let i = 0; i < segments.length - 1; i++) {
      const path = segments.slice(0, i + 1).join('/')
      let next = byPath.get(path)
      if (next === undefined) {
        next = emptyFolder(segments[i] ?? '', path)
        byPath.set(path, next)
        folder.folders.push(next)
      }
      folder.fileCount++
      folder.size += artifact.size
      folder = next
    }
    folder.fileCount++
    folder.size += artifact.size
    folder.files.push(artifact)
  }
  sortFolder(root)
  return root
}

function emptyFolder(name: string, path: string): ArtifactFolder {
  return { kind: 'folder', name, path, folders: [], files: [], fileCount: 0, size: 0 }
}

function sortFolder(folder: ArtifactFolder): void {
  folder.folders.sort((a, b) => a.name.localeCompare(b.name))
  folder.files.sort((a, b) => a.path.localeCompare(b.path))
  for (const sub of folder.folders) sortFolder(sub)
}

/** The folder at `path` in the tree, or undefined when there is none. */
export function findFolder(root: ArtifactFolder, path: string): ArtifactFolder | undefined {
  if (path === '') return root
  let folder: ArtifactFolder | undefined = root
  const segments = path.split('/')
  for (let i = 0; i < segments.length && folder !== undefined; i++) {
    const prefix = segments.slice(0, i + 1).join('/')
    folder = folder.folders.find((f: ArtifactFolder) => f.path === prefix)
  }
  return folder
}

/** The folders that hold `path` (every ancestor), so a selection deep in the tree is shown opened. */
export function ancestorsOf(path: string): string[] {
  const segments = path.split('/')
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'))
}

/** The folder part of an artifact path (`''` for one at the top). */
export function parentOf(path: string): string {
  const at = path.lastIndexOf('/')
  return at < 0 ? '' : path.slice(0, at)
}
