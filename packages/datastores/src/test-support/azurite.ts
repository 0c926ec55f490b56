import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ContractDifferences } from './driver-contract.js'
import { answers, freePort } from './ports.js'

/** The account key every Azurite accepts for `devstoreaccount1` (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

/** How Azurite differs from Azure Storage in what the driver contract suite checks (printed when skipped). */
export const AZURITE_DIFFERENCES: ContractDifferences = {
  nonAsciiListOrder: 'Azurite lists non-ASCII names in UTF-16 order (😀 before U+FF21); Azure Storage lists in UTF-8 byte order',
}

/** A running Azurite blob service and how to reach and stop it. */
export interface AzuriteInstance {
  /** The blob service URL, `http://127.0.0.1:PORT/devstoreaccount1`. */
  endpoint: string
  accountName: 'devstoreaccount1'
  accountKey: string
  /** Stops the process (by its PID) and removes its data folder. */
  stop(): Promise<void>
}

/**
 * Starts `azurite-blob` on a free loopback port with a fresh temp folder, and resolves once the port
 * answers. Throws if it exits or does not answer within 20 s.
 */
export async function startAzurite(): Promise<AzuriteInstance> {
  const require = createRequire(import.meta.url)
  const bin = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js')
  const location = await mkdtemp(path.join(tmpdir(), 'wharf-azurite-'))
  const port = await freePort()
  const args = [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--location',
    location,
    '--silent',
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
  ]
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM')
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      }, 5000)
      await exited
      clearTimeout(timer)
    }
    await rm(location, { recursive: true, force: true })
  }
  const deadline = Date.now() + 20_000
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`azurite-blob did not start on port ${port}: ${stderr || 'no output'}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    endpoint: `http://127.0.0.1:${port}/devstoreaccount1`,
    accountName: 'devstoreaccount1',
    accountKey: AZURITE_ACCOUNT_KEY,
    stop,
  }
}

/**
 * Replaces the Content-MD5 Azurite keeps for a blob, without touching its content: how a test makes a
 * stored checksum disagree with the bytes, as damage would. (Azurite checks an MD5 sent with the content.)
 */
export async function setStoredMd5(
  instance: AzuriteInstance,
  options: { containerName: string; blobName: string; md5: Buffer },
): Promise<void> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob')
  const service = new BlobServiceClient(
    instance.endpoint,
    new StorageSharedKeyCredential(instance.accountName, instance.accountKey),
  )
  const blob = service.getContainerClient(options.containerName).getBlobClient(options.blobName)
  const { contentType } = await blob.getProperties()
  await blob.setHTTPHeaders({
    blobContentMD5: options.md5,
    ...(contentType === undefined ? {} : { blobContentType: contentType }),
  })
}

/**
 * Stores a blob under `blobName` exactly as given, the way another tool could: through a plain HTTP PUT
 * with a container SAS, because the SDK (and any WHATWG URL) would resolve `..` and `.` segments first.
 */
export async function putBlobWithRawName(
  instance: AzuriteInstance,
  options: { containerName: string; blobName: string; body: string },
): Promise<void> {
  const { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } =
    await import('@azure/storage-blob')
  const { request } = await import('node:http')
  const credential = new StorageSharedKeyCredential(instance.accountName, instance.accountKey)
  const sas = generateBlobSASQueryParameters(
    {
      containerName: options.containerName,
      permissions: ContainerSASPermissions.parse('cw'),
      expiresOn: new Date(Date.now() + 600_000),
    },
    credential,
  ).toString()
  const url = new URL(instance.endpoint)
  // Each segment is encoded, but `.` and `..` stay as they are: Azurite keeps them in the name.
  const encoded = options.blobName.split('/').map(encodeURIComponent).join('/')
  const body = Buffer.from(options.body)
  const status = await new Promise<number>((resolve, reject) => {
    const put = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: `${url.pathname}/${options.containerName}/${encoded}?${sas}`,
        headers: { 'x-ms-blob-type': 'BlockBlob', 'content-length': body.length },
      },
      (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      },
    )
    put.once('error', reject)
    put.end(body)
  })
  if (status !== 201) throw new Error(`Azurite answered ${status} to storing "${options.blobName}"`)
}
