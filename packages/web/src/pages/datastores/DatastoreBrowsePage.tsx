import { Empty } from '../../components/States.js'

/** Files of a datastore (to be built). */
export function DatastoreBrowsePage() {
  return <Empty title="Files of a datastore: not built yet." />
}
