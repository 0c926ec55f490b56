export type {
  DatastoreDriver,
  FileInfo,
  GetOptions,
  ListOptions,
  PagedIterable,
  PutOptions,
  PutResult,
} from './driver.js'
export { toDatastoreKey, toKeyPrefix, joinKey, type DatastoreKey } from './key.js'
export { paginate, type FetchPage } from './paging.js'
export { HashingStream, createHashingStream, type HashingStreamOptions } from './hashing.js'
export { createFilesystemDriver, type FilesystemDriverOptions } from './filesystem/driver.js'
export { createAzureBlobDriver, type AzureBlobDriverOptions, type AzureBlobCredential } from './azure-blob/driver.js'
export { createS3Driver, type S3DriverOptions } from './s3/driver.js'
