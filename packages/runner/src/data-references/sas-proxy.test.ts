import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Datastore, Workspace } from '@wharf/sdk'
import { useAzuriteBlobServer } from '@wharf/server/test-support'
import { startSasProxy, type AzureGrant } from './sas-proxy.js'

const azurite = useAzuriteBlobServer()
let dir: string
let workspace: Workspace

async function readGrant(): Promise<AzureGrant> {
  const access = await workspace.client.datastoreAccess('workspaceblobstore', 'read')
  if (access.mode !== 'azure_sas') throw new Error(`expected a SAS, got ${access.mode}`)
  return access
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-sas-proxy-'))
  workspace = Workspace.connect({ url: azurite.server.url, spoolDir: path.join(dir, 'spool') })
  await mkdir(path.join(dir, 'src', 'proxy'), { recursive: true })
  await writeFile(path.join(dir, 'src', 'proxy', 'hello.txt'), 'hello through the proxy')
  const blob = await Datastore.get(workspace, 'workspaceblobstore')
  expect((await blob.upload({ srcDir: path.join(dir, 'src'), showProgress: false })).failed).toEqual([])
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('startSasProxy', () => {
  it('reads a blob with the current SAS, renewing it before it runs out, and refuses a request without its secret', async () => {
    const first = await readGrant()
    // The first grant is spoiled: only a renewed one can read, so a successful read proves the renewal.
    const spoiled: AzureGrant = {
      ...first,
      sasToken: first.sasToken.replace(/sig=[^&]+/, 'sig=spoiled'),
      expiresOn: new Date(Date.now() + 1000).toISOString(),
    }
    const proxy = await startSasProxy({ grant: spoiled, renew: readGrant })
    try {
      const url = new URL(proxy.sasUrl)
      const blobUrl = `${url.origin}${url.pathname}/proxy/hello.txt${url.search}`
      const answer = await fetch(blobUrl)
      expect(answer.status).toBe(200)
      expect(await answer.text()).toBe('hello through the proxy')
      expect(proxy.renewals).toBe(1)
      // Within the renewed grant's life, no renewal per request.
      expect((await fetch(blobUrl)).status).toBe(200)
      expect(proxy.renewals).toBe(1)
      const refused = await fetch(`${url.origin}${url.pathname}/proxy/hello.txt?sig=guess`)
      expect(refused.status).toBe(403)
      expect(proxy.sasUrl).not.toContain(first.sasToken)
    } finally {
      await proxy.close()
    }
  })
})
