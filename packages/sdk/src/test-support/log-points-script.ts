// A training script in miniature: creates a run, logs points, and ends without flushing.
// Usage: log-points-script.ts <server url> <spool dir> <points> <end: "return" | "exit">
import { WharfClient } from '@wharf/client'
import { MetricLogger } from '../index.js'

const [url, spoolDir, countText, end] = process.argv.slice(2)
if (url === undefined || spoolDir === undefined || countText === undefined)
  throw new Error('usage: <url> <spoolDir> <points> <end>')
const client = new WharfClient({ url })
const run = await client.createRun({ experiment: 'exit-tests', status: 'Running' })
process.stdout.write(`run ${run.id}\n`)
const logger = new MetricLogger({ client, runId: run.id, spoolDir })
for (let i = 0; i < Number(countText); i++) logger.log('loss', i)
if (end === 'exit') process.exit(0)
