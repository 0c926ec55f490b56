// The core: driver interface, keys, the filesystem driver and the transfer engine. The cloud drivers
// live in `@wharf/datastores/cloud`, so code that never touches a cloud skips loading their SDKs.
// Every type of the driver seam (driver.ts holds nothing else).
export type * from './driver.js'
export { toDatastoreKey, toKeyPrefix, joinKey, keyProblemOf, type DatastoreKey } from './key.js'
export { checkGet } from './range.js'
export { createRenewingDriver, type DriverLease, type RenewingDriverOptions } from './renewing.js'
export { HashingStream, createHashingStream, feedBody, type BodyFeed, type HashingStreamOptions } from './hashing.js'
export { createFilesystemDriver, type FilesystemDriverOptions } from './filesystem/driver.js'
export { assertFolderWithin, isInside, realPathAhead } from './filesystem/containment.js'
export { uploadFiles, type UploadOptions, type UploadResult } from './transfer/upload.js'
export {
  downloadFiles,
  downloadRemoteFiles,
  type DownloadOptions,
  type DownloadResult,
  type RemoteFile,
} from './transfer/download.js'
export { digestOfFile, type DigestAlgorithm, type ExpectedDigest } from './transfer/md5.js'
export type { OpenRemote } from './transfer/fetch-to-file.js'
export { localRelativeOf } from './transfer/local-path.js'
export { runPool, type PoolOptions } from './transfer/pool.js'
export { listLocalFiles, type LocalFile } from './transfer/local-files.js'
export { planUploadKeys, type UploadItem, type PlanUploadKeysOptions } from './transfer/plan-keys.js'
export type { TransferProgress } from './transfer/progress.js'
export type { TransferFailure } from './transfer/failure.js'
export type { TransferOptions } from './transfer/options.js'
export type { PieceOptions } from './transfer/fetch-to-file.js'
