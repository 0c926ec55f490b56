// A separate process that opens a store on a shared database and logs metrics into one run: the tests
// start several at once to prove that migrating and ingesting from several processes stays correct.
import { isWharfError } from '@wharf/contract'
import { createMetadataStore } from '../create-metadata-store.js'
import type { StoreConfig } from '../metadata-store.js'
import { newRunInput } from './fixtures.js'

/** What one worker process does. */
export interface StoreWorkerJob {
  config: StoreConfig
  workspace: string
  runId: string
  metric: string
  batches: number
  pointsPerBatch: number
}

async function ignoreExisting(promise: Promise<unknown>, code: 'WORKSPACE_EXISTS' | 'RUN_EXISTS'): Promise<void> {
  try {
    await promise
  } catch (error) {
    if (!isWharfError(error, code)) throw error
  }
}

async function main(job: StoreWorkerJob): Promise<void> {
  const store = await createMetadataStore(job.config)
  try {
    const at = new Date(0).toISOString()
    await ignoreExisting(
      store.createWorkspace({
        name: job.workspace,
        defaultDatastore: 'd',
        artifactDatastore: 'd',
        createdAt: at,
        datastores: [],
      }),
      'WORKSPACE_EXISTS',
    )
    await ignoreExisting(
      store.createRun(
        newRunInput({
          workspace: job.workspace,
          experiment: 'workers',
          id: job.runId,
          displayName: job.runId,
          status: 'Running',
          createdAt: at,
          startedAt: at,
        }),
      ),
      'RUN_EXISTS',
    )
    for (let b = 0; b < job.batches; b++) {
      await store.ingestMetrics({
        workspace: job.workspace,
        runId: job.runId,
        points: Array.from({ length: job.pointsPerBatch }, (_, i) => ({ name: job.metric, value: process.pid + i })),
        receivedAt: Date.now(),
        maxMetricNames: 10,
        writerId: `pid-${process.pid}`,
        sequence: b,
      })
    }
  } finally {
    await store.close()
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as StoreWorkerJob).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
