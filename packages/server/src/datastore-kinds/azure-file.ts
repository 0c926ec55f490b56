import { createAzureFileDriver } from '@wharf/datastores/cloud'
import { azureAccess, azureCredential, azureSettings, planAzure, type AzureFlavour, type AzureSettings } from './azure.js'
import type { StorageKind } from './kind.js'

const flavour: AzureFlavour = { kind: 'azure_file', service: 'file', containerField: 'fileShareName', fieldWhat: 'the file share name', containerWord: 'share' }

/** Azure Files: a file share of a storage account, reached with its account key or a SAS token. */
export const azureFileKind: StorageKind<'azure_file', AzureSettings> = {
  plan: (request) => planAzure(request, flavour),
  settings: (record) => azureSettings(record, flavour),
  createDriver(record, context) {
    const secret = context.openSecret()
    const { accountName, container, serviceUrl } = azureSettings(record, flavour)
    return createAzureFileDriver({ accountName, shareName: container, endpoint: serviceUrl, credential: azureCredential(record, secret) })
  },
  access: (record, operation, context) => azureAccess(record, operation, { context, flavour }),
}
