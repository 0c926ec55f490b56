import { Empty } from '../components/States.js'

/** Experiments (to be built). */
export function ExperimentsPage() {
  return <Empty title="Experiments: not built yet." />
}
