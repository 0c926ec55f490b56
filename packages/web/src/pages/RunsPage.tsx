import { Empty } from '../components/States.js'

/** Runs of an experiment (to be built). */
export function RunsPage() {
  return <Empty title="Runs of an experiment: not built yet." />
}
