export { startTestServer, testStoreKinds, type TestServer } from './test-server.js'
export { startServerProcess, type ServerProcess } from './server-process.js'
