// A separate process that opens a store on a shared database and logs metrics into one run: the tests
// start several at once to prove that migrating and ingesting from several processes stays correct,
// or kill one while it ingests and merges to prove that a crash loses and doubles nothing.
import { isWharfError } from '@wharf/contract'
import { createMetadataStore } from '../create-metadata-store.js'
import type { MetadataStore, StoreConfig } from '../metadata-store.js'
import { crashBatchPoints, newRunInput } from './fixtures.js'

/** What one worker process does: log numbered batches, or log and merge until it is killed. */
export type StoreWorkerJob = IngestJob | IngestAndCompactJob

/** Logs `batches` batches of `pointsPerBatch` points without steps, as writer `pid-<pid>`. */
export interface IngestJob {
  kind?: 'ingest'
  config: StoreConfig
  workspace: string
  runId: string
  metric: string
  batches: number
  pointsPerBatch: number
}

/**
 * Logs batches `firstBatch + sequence` of {@link crashBatchPoints} as `writerId`, sequence 0, 1, … up
 * to `maxBatches`,
 * printing each sequence on its own stdout line once ingestMetrics resolved (the acknowledgement), and
 * calls compactMetrics on the run after every `compactEvery` batches (never when 0).
 */
export interface IngestAndCompactJob {
  kind: 'ingest-and-compact'
  config: StoreConfig
  workspace: string
  runId: string
  metric: string
  writerId: string
  firstBatch: number
  compactEvery: number
  maxBatches: number
}

async function ignoreExisting(promise: Promise<unknown>, code: 'WORKSPACE_EXISTS' | 'RUN_EXISTS'): Promise<void> {
  try {
    await promise
  } catch (error) {
    if (!isWharfError(error, code)) throw error
  }
}

async function ingestAndCompact(store: MetadataStore, job: IngestAndCompactJob): Promise<void> {
  for (let sequence = 0; sequence < job.maxBatches; sequence++) {
    await store.ingestMetrics({
      workspace: job.workspace,
      runId: job.runId,
      points: crashBatchPoints(job.metric, job.firstBatch + sequence),
      receivedAt: Date.now(),
      maxMetricNames: 10,
      writerId: job.writerId,
      sequence,
    })
    process.stdout.write(`${sequence}\n`)
    if (job.compactEvery > 0 && (sequence + 1) % job.compactEvery === 0) {
      await store.compactMetrics({ workspace: job.workspace, runId: job.runId })
    }
  }
}

async function ingestNumbered(store: MetadataStore, job: IngestJob): Promise<void> {
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
    if (job.kind === 'ingest-and-compact') await ingestAndCompact(store, job)
    else await ingestNumbered(store, job)
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
