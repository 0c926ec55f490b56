import { createAzureBlobDriver } from '@wharf/datastores/cloud'
import { azureKind } from './azure.js'

/** Azure Blob Storage: a container of a storage account, reached with its account key or a SAS token. */
export const azureBlobKind = azureKind(
  {
    kind: 'azure_blob',
    service: 'blob',
    containerField: 'containerName',
    fieldWhat: 'the container name',
    containerWord: 'container',
  },
  ({ accountName, container, serviceUrl }, credential) =>
    createAzureBlobDriver({ accountName, containerName: container, endpoint: serviceUrl, credential }),
)
