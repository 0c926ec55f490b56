import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** A running s3rver (an in-process S3 emulator) and how to reach it. */
export interface S3rverInstance {
  /** `http://127.0.0.1:PORT`; use it with path-style addressing. */
  endpoint: string
  accessKeyId: 'S3RVER'
  secretAccessKey: 'S3RVER'
  /** Stops the server and removes its temp folder. */
  stop(): Promise<void>
}

// s3rver ships no types; this is the part of its API used here.
interface S3rverServer {
  run(): Promise<AddressInfo>
  close(): Promise<void>
}
type S3rverConstructor = new (options: {
  port: number
  address: string
  silent: boolean
  directory: string
  allowMismatchedSignatures: boolean
}) => S3rverServer

const require = createRequire(import.meta.url)

/**
 * Starts s3rver on a free loopback port over a fresh temp folder. It checks signatures, so only the
 * S3RVER/S3RVER key pair it knows is accepted — unless `anySecret`, which accepts any secret key with
 * the S3RVER key id (for tests that need a secret of their own to look for).
 */
export async function startS3rver(options: { anySecret?: boolean } = {}): Promise<S3rverInstance> {
  const S3rver = require('s3rver') as S3rverConstructor
  const directory = await mkdtemp(path.join(tmpdir(), 'wharf-s3rver-'))
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    allowMismatchedSignatures: options.anySecret === true,
  })
  let address: AddressInfo
  try {
    address = await server.run()
  } catch (error) {
    await rm(directory, { recursive: true, force: true })
    throw error
  }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      try {
        await server.close()
      } finally {
        await rm(directory, { recursive: true, force: true })
      }
    },
  }
}
