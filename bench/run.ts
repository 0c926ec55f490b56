import { bytesBench } from './bytes.js'
import { chartBench, chartPostgresBench } from './chart.js'
import { codecBench } from './codec.js'
import type { Bench } from './harness.js'
import { ingestBench } from './ingest.js'
import { ingestPostgresBench } from './ingest-postgres.js'
import { runsTableBench } from './runs-table.js'
import { mlflowBench } from './mlflow.js'
import { pythonIngestBench } from './python.js'
import { logCostBench, sdkIngestBench } from './sdk.js'
import { seriesReadBench } from './series-read.js'
import { snapshotBench } from './snapshot.js'
import { studioBench } from './studio.js'
import { submitBench } from './submit.js'
import { azureTransferBench, filesystemTransferBench } from './transfer.js'
import { wireBench } from './wire.js'

const BENCHES: Bench[] = [
  ingestBench,
  sdkIngestBench,
  pythonIngestBench,
  logCostBench,
  azureTransferBench,
  filesystemTransferBench,
  snapshotBench,
  submitBench,
  wireBench,
  codecBench,
  chartBench,
  chartPostgresBench,
  seriesReadBench,
  runsTableBench,
  studioBench,
  bytesBench,
  ingestPostgresBench,
  mlflowBench,
]

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
// A name that is a bench's whole name runs that bench alone (`metrics.chart` is not also
// `metrics.chart.postgres`); any other name runs every bench it starts.
const matches = (bench: Bench, name: string): boolean =>
  BENCHES.some((b) => b.name === name) ? bench.name === name : bench.name.startsWith(name)
const selected = wanted.length === 0 ? BENCHES : BENCHES.filter((b) => wanted.some((w) => matches(b, w)))
if (selected.length === 0) {
  process.stderr.write(`no benchmark named ${wanted.join(', ')}; there are: ${BENCHES.map((b) => b.name).join(', ')}\n`)
  process.exit(2)
}
for (const bench of selected) {
  process.stderr.write(`# ${bench.name}: ${bench.description}\n`)
  for (const result of await bench.run()) process.stdout.write(JSON.stringify(result) + '\n')
}
