import type { Run } from '@wharf/contract'
import { Empty } from '../../components/States.js'

/** Run overview (to be built). */
export function OverviewTab(props: { run: Run }) {
  return <Empty title={`Run overview of ${props.run.displayName}: not built yet.`} />
}
