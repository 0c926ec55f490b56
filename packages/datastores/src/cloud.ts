// Cloud storage drivers, each thin over its vendor SDK; loaded only by code that needs one.
export { createAzureBlobDriver, type AzureBlobDriverOptions, type AzureBlobCredential } from './azure-blob/driver.js'
export { createAzureFileDriver, type AzureFileDriverOptions, type AzureFileCredential } from './azure-file/driver.js'
export { createS3Driver, type S3DriverOptions } from './s3/driver.js'
export { mintContainerSas, type MintSasOptions, type MintedSas, type SasOperation } from './sas.js'
