export {
  WharfClient,
  errorFromResponse,
  encodePath,
  type WharfClientOptions,
  type CallOptions,
  type UploadArtifactOptions,
} from './client.js'
