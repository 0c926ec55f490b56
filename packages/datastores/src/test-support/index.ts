export {
  startAzurite,
  AZURITE_DIFFERENCES,
  setStoredMd5,
  putBlobWithRawName,
  AZURITE_ACCOUNT_KEY,
  type AzuriteInstance,
} from './azurite.js'
export { startS3rver, type S3rverInstance } from './s3rver.js'
export {
  describeDatastoreContract,
  bodyOf,
  readAll,
  generatedChunks,
  digestOf,
  keysOf,
  type ContractSetup,
  type ContractDifferences,
} from './driver-contract.js'
export { hasRclone, rcloneAzuriteEnv, runRclone } from './rclone.js'
export { reachableText } from './reachable.js'
export { answers, freePort } from './ports.js'
