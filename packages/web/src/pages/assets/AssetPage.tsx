import { Empty } from '../../components/States.js'

/** Asset versions (to be built). */
export function AssetPage() {
  return <Empty title="Asset versions: not built yet." />
}
