export {
  WharfClient,
  errorFromResponse,
  encodePath,
  METRIC_WIRES,
  type MetricWire,
  type WharfClientOptions,
  type CallOptions,
  type UploadArtifactOptions,
} from './client.js'
