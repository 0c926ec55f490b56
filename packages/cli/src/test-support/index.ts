export { startCliTestServer, type CliTestServer } from './cli-server.js'
export { runWharf, runWharfBytes, runWharfOnTerminal, spawnWharf } from './run-cli.js'
