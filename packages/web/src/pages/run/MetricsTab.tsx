import type { Run } from '@wharf/contract'
import { Empty } from '../../components/States.js'

/** Run metrics (to be built). */
export function MetricsTab(props: { run: Run }) {
  return <Empty title={`Run metrics of ${props.run.displayName}: not built yet.`} />
}
