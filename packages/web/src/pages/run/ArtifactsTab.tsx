import type { Run } from '@wharf/contract'
import { Empty } from '../../components/States.js'

/** Run artifacts (to be built). */
export function ArtifactsTab(props: { run: Run }) {
  return <Empty title={`Run artifacts of ${props.run.displayName}: not built yet.`} />
}
