import { Empty } from '../../components/States.js'

/** Register a datastore (to be built). */
export function RegisterDatastorePage() {
  return <Empty title="Register a datastore: not built yet." />
}
