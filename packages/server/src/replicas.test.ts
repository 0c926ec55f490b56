import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import { API_PREFIX, type Artifact } from '@wharf/contract'
import type { AzuriteInstance } from '@wharf/datastores/test-support'
import { POSTGRES_SKIP_LINE, postgresTestUrl } from '@wharf/store/test-support'
import {
  NGINX_SKIP_LINE,
  nginxBinary,
  startNginx,
  useAzuriteBlobServer,
  startReplicas,
  type LoadBalancer,
  type Replicas,
} from './test-support/index.js'

// Uploads of one new path racing, on one server and across replicas behind a load balancer. Sizes
// alternate between one request to the storage and several staged blocks (Azure: over 4 MiB).
const SIZES = [200_000, 5 * 1024 * 1024 + 3]

interface Answer {
  status: number
  code: string | undefined
  sha256: string
}

/** PUTs `body` to `url` with fetch, as any HTTP client would, and keeps the status and error code. */
async function put(url: string, body: Buffer): Promise<Answer> {
  const response = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } })
  const json = (await response.json()) as { error?: { code?: string } }
  return { status: response.status, code: json.error?.code, sha256: createHash('sha256').update(body).digest('hex') }
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function containerOf(azurite: AzuriteInstance) {
  return new BlobServiceClient(
    azurite.endpoint,
    new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
  ).getContainerClient('artifacts')
}

/** Names of the blobs under `prefix` in the `artifacts` container. */
async function blobsUnder(azurite: AzuriteInstance, prefix: string): Promise<string[]> {
  const names: string[] = []
  for await (const blob of containerOf(azurite).listBlobsFlat({ prefix })) names.push(blob.name)
  return names
}

/** Creates a Running run through `url` and returns its id. */
async function createRun(url: string): Promise<string> {
  const response = await fetch(`${url}${API_PREFIX}/workspaces/default/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ experiment: 'race', status: 'Running' }),
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { id: string }).id
}

/**
 * Uploads `uploads` bodies of one new artifact path at once (through `urls`, one per upload, in turn)
 * and checks what a user would: every answer is 201 or a typed 409, at least one is 201, the record
 * holds one of the 201 uploads, the stored blob is exactly those bytes, and no other blob is left.
 */
async function raceArtifact(options: {
  urls: readonly string[]
  azurite: AzuriteInstance
  runId: string
  round: number
}): Promise<void> {
  const { urls, azurite, runId, round } = options
  const size = SIZES[round % SIZES.length] ?? 1
  const artifactPath = `outputs/round-${round}.bin`
  const bodies = urls.map(() => randomBytes(size))
  const answers = await Promise.all(
    urls.map((url, i) =>
      put(`${url}${API_PREFIX}/workspaces/default/runs/${runId}/artifacts/content/${artifactPath}`, bodies[i] ?? Buffer.alloc(0)),
    ),
  )
  const what = `round ${round} (${size} bytes): ${JSON.stringify(answers.map((a) => [a.status, a.code]))}`
  for (const answer of answers)
    expect(answer.status === 201 || (answer.status === 409 && answer.code === 'FILE_EXISTS'), what).toBe(true)
  const stored = answers.filter((a) => a.status === 201).map((a) => a.sha256)
  expect(stored.length, what).toBeGreaterThanOrEqual(1)
  const listed = await fetch(
    `${urls[0]}${API_PREFIX}/workspaces/default/runs/${runId}/artifacts?prefix=${encodeURIComponent(artifactPath)}`,
  )
  const record = ((await listed.json()) as { items: Artifact[] }).items[0]
  expect(stored, what).toContain(record?.sha256)
  const bytes = await containerOf(azurite)
    .getBlobClient(record?.key ?? '')
    .downloadToBuffer()
  expect(sha256Of(bytes), `${what}: the record points at other bytes`).toBe(record?.sha256)
  const downloaded = Buffer.from(
    await (
      await fetch(`${urls[0]}${API_PREFIX}/workspaces/default/runs/${runId}/artifacts/content/${artifactPath}`)
    ).arrayBuffer(),
  )
  expect(sha256Of(downloaded), what).toBe(record?.sha256)
  const left = (await blobsUnder(azurite, `ExperimentRun/${runId}/`)).filter((name) => name.endsWith(`/${artifactPath}`))
  expect(left, `${what}: bytes no record points at are left`).toEqual([record?.key])
}

describe('concurrent first uploads of one artifact path on one server', () => {
  const running = useAzuriteBlobServer()

  it('answer 201 or FILE_EXISTS, never 500, and the record and the stored bytes are one upload (12 rounds of 3)', async () => {
    const { azurite, server } = running
    const runId = await createRun(server.url)
    for (let round = 0; round < 12; round++)
      await raceArtifact({ urls: [server.url, server.url, server.url], azurite, runId, round })
  })
})

const postgres = postgresTestUrl()
if (postgres === undefined) console.log(`${POSTGRES_SKIP_LINE} (two server replicas share one database)`)
const hasNginx = nginxBinary() !== undefined
if (!hasNginx) console.log(`${NGINX_SKIP_LINE}: "concurrent first uploads of one artifact path across two replicas behind nginx"`)

describe.skipIf(postgres === undefined)('two server processes on one PostgreSQL and one Azurite', () => {
  let replicas: Replicas
  let balancer: LoadBalancer | undefined

  beforeAll(async () => {
    replicas = await startReplicas({ count: 2 })
    if (hasNginx) balancer = await startNginx({ upstreams: replicas.servers.map((server) => server.url) })
  }, 120_000)
  afterAll(async () => {
    await balancer?.stop()
    await replicas?.stop()
  })

  it("a new datastore path sent to both replicas at once is stored once: one 201, one 409 FILE_EXISTS, the winner's bytes (20 rounds)", async () => {
    const [a, b] = replicas.servers.map((server) => server.url)
    for (let round = 0; round < 20; round++) {
      const filePath = `race/round-${round}.bin`
      const url = (base: string | undefined) =>
        `${base}${API_PREFIX}/workspaces/default/datastores/workspaceblobstore/files/content/${filePath}?overwrite=false`
      const answers = await Promise.all([put(url(a), randomBytes(300_000)), put(url(b), randomBytes(300_000))])
      const what = `round ${round}: ${JSON.stringify(answers.map((x) => [x.status, x.code]))}`
      expect(answers.map((x) => x.status).sort(), what).toEqual([201, 409])
      expect(answers.find((x) => x.status === 409)?.code, what).toBe('FILE_EXISTS')
      const stored = await containerOf(replicas.azurite).getBlobClient(filePath).downloadToBuffer()
      expect(sha256Of(stored), `${what}: an acknowledged write was replaced`).toBe(answers.find((x) => x.status === 201)?.sha256)
    }
  })

  it.skipIf(!hasNginx)(
    'concurrent first uploads of one artifact path across two replicas behind nginx: 201 or FILE_EXISTS, never 500, record and bytes agree (12 rounds)',
    async () => {
      const url = balancer?.url ?? ''
      const runId = await createRun(url)
      // Round robin sends the two uploads of a round to different replicas.
      for (let round = 0; round < 12; round++) await raceArtifact({ urls: [url, url], azurite: replicas.azurite, runId, round })
    },
  )
})
