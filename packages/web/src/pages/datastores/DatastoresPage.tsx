import { Empty } from '../../components/States.js'

/** Datastores (to be built). */
export function DatastoresPage() {
  return <Empty title="Datastores: not built yet." />
}
