import type { Run } from '@wharf/contract'
import { Empty } from '../../components/States.js'

/** Run logs (to be built). */
export function LogsTab(props: { run: Run }) {
  return <Empty title={`Run logs of ${props.run.displayName}: not built yet.`} />
}
