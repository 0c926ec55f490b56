export { startAzurite, setStoredMd5, AZURITE_ACCOUNT_KEY, type AzuriteInstance } from './azurite.js'
export { startS3rver, type S3rverInstance } from './s3rver.js'
export { describeDatastoreContract, bodyOf, readAll, generatedChunks, digestOf, keysOf, type ContractSetup } from './driver-contract.js'
export { hasRclone, rcloneAzuriteEnv, runRclone } from './rclone.js'
