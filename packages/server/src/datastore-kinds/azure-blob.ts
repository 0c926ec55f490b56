import { createAzureBlobDriver } from '@wharf/datastores/cloud'
import { azureAccess, azureCredential, azureSettings, planAzure, type AzureFlavour, type AzureSettings } from './azure.js'
import type { StorageKind } from './kind.js'

const flavour: AzureFlavour = { kind: 'azure_blob', service: 'blob', containerField: 'containerName', fieldWhat: 'the container name', containerWord: 'container' }

/** Azure Blob Storage: a container of a storage account, reached with its account key or a SAS token. */
export const azureBlobKind: StorageKind<'azure_blob', AzureSettings> = {
  plan: (request) => planAzure(request, flavour),
  settings: (record) => azureSettings(record, flavour),
  createDriver(record, context) {
    const secret = context.openSecret()
    const { accountName, container, serviceUrl } = azureSettings(record, flavour)
    return createAzureBlobDriver({ accountName, containerName: container, endpoint: serviceUrl, credential: azureCredential(record, secret) })
  },
  access: (record, operation, context) => azureAccess(record, operation, { context, flavour }),
}
