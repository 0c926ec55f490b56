import { afterAll, beforeAll } from 'vitest'
import type { AzuriteInstance } from '@wharf/datastores/test-support'
import { startAzuriteBlobServer, type TestServer } from './test-server.js'

/** The Azurite and the server of {@link useAzuriteBlobServer}, readable inside the tests once started. */
export interface AzuriteBlobServer {
  readonly azurite: AzuriteInstance
  readonly server: TestServer
}

/**
 * Starts {@link startAzuriteBlobServer} before the tests of the enclosing describe and stops both after
 * them; read `azurite` and `server` inside the tests.
 */
export function useAzuriteBlobServer(): AzuriteBlobServer {
  let started: Awaited<ReturnType<typeof startAzuriteBlobServer>> | undefined
  beforeAll(async () => {
    started = await startAzuriteBlobServer()
  })
  afterAll(async () => {
    await started?.stop()
  })
  const running = (): AzuriteBlobServer => {
    if (!started) throw new Error('Azurite and its server are not started: read them inside a test')
    return started
  }
  return {
    get azurite() {
      return running().azurite
    },
    get server() {
      return running().server
    },
  }
}
