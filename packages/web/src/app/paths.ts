/** Every studio URL in one place, so links and tests agree. All take the workspace first. */
const enc = encodeURIComponent

export type RunTab = 'overview' | 'metrics' | 'artifacts' | 'logs'

export const paths = {
  experiments: (ws: string) => `/w/${enc(ws)}/experiments`,
  runs: (ws: string, experiment: string) => `/w/${enc(ws)}/experiments/${enc(experiment)}`,
  run: (ws: string, runId: string, tab: RunTab = 'overview') =>
    `/w/${enc(ws)}/runs/${enc(runId)}${tab === 'overview' ? '' : `?tab=${tab}`}`,
  compare: (ws: string, runIds: readonly string[]) => `/w/${enc(ws)}/compare?${runIds.map((id) => `run=${enc(id)}`).join('&')}`,
  datastores: (ws: string) => `/w/${enc(ws)}/datastores`,
  registerDatastore: (ws: string) => `/w/${enc(ws)}/datastores/new`,
  datastore: (ws: string, name: string, path = '') =>
    `/w/${enc(ws)}/datastores/${enc(name)}${path === '' ? '' : `?path=${enc(path)}`}`,
  assets: (ws: string) => `/w/${enc(ws)}/assets`,
  asset: (ws: string, name: string, version?: number) =>
    `/w/${enc(ws)}/assets/${enc(name)}${version === undefined ? '' : `?version=${version}`}`,
}
