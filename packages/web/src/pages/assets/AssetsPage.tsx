import { Empty } from '../../components/States.js'

/** Assets (to be built). */
export function AssetsPage() {
  return <Empty title="Assets: not built yet." />
}
