export { azuriteBlobStore, errorCodeOf, startAzuriteBlobServer, startTestServer, testStoreKinds, type TestServer } from './test-server.js'
export { startReplicas, startServerProcess, type Replicas, type ServerProcess } from './server-process.js'
export { NGINX_SKIP_LINE, nginxBinary, startNginx, type LoadBalancer } from './nginx.js'
export { useAzuriteBlobServer, type AzuriteBlobServer } from './use-azurite-server.js'
