export { createProgram, runCli } from './program.js'
export { reportError } from './errors.js'
