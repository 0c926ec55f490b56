import { Empty } from '../components/States.js'

/** Compare runs (to be built). */
export function ComparePage() {
  return <Empty title="Compare runs: not built yet." />
}
