// @wharf/runner: submits runs and supervises them on a compute target. Loaded by the SDK's
// `Experiment.submit` and by `wharf run submit` only; a script that only logs metrics never loads it.

/** Snapshots the source, creates the run (Queued), and starts its runner on the compute target. */
export { submitRun, type SubmitOptions } from './submit.js'
/** Supervises one submitted run from its id to its end (what the runner's bin runs). */
export { superviseRun, type SuperviseOptions } from './process/supervise.js'
/** Where a submitted run executes: the seam, and `local` (this machine). */
export type { ComputeTarget, LaunchOptions } from './compute/compute-target.js'
/** The `local` compute target: the runner as a detached process on this machine. */
export { localComputeTarget, type LocalComputeTargetOptions } from './compute/local.js'
/** Snapshots a folder on the server, uploading only the contents it does not hold yet. */
export { createSnapshot, type CreateSnapshotOptions, type CreatedSnapshot } from './snapshot/upload.js'
/** The snapshot manifest of a folder (ignore files honoured, limits checked), without any upload. */
export {
  buildSnapshotManifest,
  type SnapshotManifest,
  type ManifestFile,
  type BuildManifestOptions,
} from './snapshot/manifest.js'
/** Downloads a snapshot into a folder (`wharf run show --snapshot DIR`). */
export { materializeSnapshot, type MaterializeOptions } from './snapshot/materialize.js'
/** Mount tool locations (rclone, fusermount3, /dev/fuse), for machines that keep them elsewhere. */
export type { MountTools } from './data-references/mount.js'
/** What the runner needs of a workspace. */
export type { WorkspaceConnection } from './connection.js'
