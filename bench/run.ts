import type { Bench } from './harness.js'
import { ingestBench } from './ingest.js'
import { mlflowBench } from './mlflow.js'
import { logCostBench, sdkIngestBench } from './sdk.js'
import { snapshotBench } from './snapshot.js'
import { submitBench } from './submit.js'
import { azureTransferBench, filesystemTransferBench } from './transfer.js'

const BENCHES: Bench[] = [
  ingestBench,
  sdkIngestBench,
  logCostBench,
  azureTransferBench,
  filesystemTransferBench,
  snapshotBench,
  submitBench,
  mlflowBench,
]

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const selected = wanted.length === 0 ? BENCHES : BENCHES.filter((b) => wanted.some((w) => b.name.startsWith(w)))
if (selected.length === 0) {
  process.stderr.write(`no benchmark named ${wanted.join(', ')}; there are: ${BENCHES.map((b) => b.name).join(', ')}\n`)
  process.exit(2)
}
for (const bench of selected) {
  process.stderr.write(`# ${bench.name}: ${bench.description}\n`)
  for (const result of await bench.run()) process.stdout.write(JSON.stringify(result) + '\n')
}
