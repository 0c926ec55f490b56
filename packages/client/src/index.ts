export { WharfClient, errorFromResponse, encodePath, type WharfClientOptions, type CallOptions } from './client.js'
export { paginate, type PagedIterable } from './paging.js'
