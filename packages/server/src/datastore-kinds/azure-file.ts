import { createAzureFileDriver } from '@wharf/datastores/cloud'
import { azureKind } from './azure.js'

/** Azure Files: a file share of a storage account, reached with its account key or a SAS token. */
export const azureFileKind = azureKind(
  {
    kind: 'azure_file',
    service: 'file',
    containerField: 'fileShareName',
    fieldWhat: 'the file share name',
    containerWord: 'share',
  },
  ({ accountName, container, serviceUrl }, credential) =>
    createAzureFileDriver({ accountName, shareName: container, endpoint: serviceUrl, credential }),
)
