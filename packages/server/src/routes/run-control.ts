import { ROUTES, WharfError, printable } from '@wharf/contract'
import type { AppDeps } from '../deps.js'
import type { BindRoute } from '../route.js'
import type { RunTokens } from '../run-token.js'

/** What a submitted run's runner and its submitter use: cancel, heartbeat, and the run's token. */
export function mountRunControlRoutes(route: BindRoute, deps: AppDeps & { runTokens: RunTokens }): void {
  const { store, runTokens } = deps

  route(ROUTES.cancelRun, ({ params: { workspace, runId } }) =>
    store.requestRunCancel({ workspace, runId, at: new Date().toISOString() }),
  )

  route(ROUTES.runHeartbeat, async ({ params: { workspace, runId } }) => {
    // A heartbeat puts the run under the watchdog: only a run with a runner may send one.
    const run = await store.getRun({ workspace, runId })
    if (run.definition === null) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `only a submitted run has a runner to send heartbeats; run "${printable(runId)}" has no definition (it was not submitted)`,
        { details: { runId } },
      )
    }
    return store.heartbeatRun({ workspace, runId, at: new Date().toISOString() })
  })

  // Only a caller with full access gets here: the route has no run-token access, so a run token is
  // refused before. The scopes come from the stored run, never from the request.
  route(ROUTES.mintRunToken, async ({ params: { workspace, runId }, body }) => {
    let run = await store.getRun({ workspace, runId })
    // The token is for the runner, which starts right after: the run counts as held by it from now, so
    // the watchdog fails it (RUNNER_LOST) when no runner ever reports, instead of leaving it Queued.
    if (run.status === 'Queued' && run.heartbeatAt === null && run.definition !== null) {
      await store.heartbeatRun({ workspace, runId, at: new Date().toISOString() })
      run = await store.getRun({ workspace, runId })
    }
    return runTokens.mint({ run, ...(body.expiresInSeconds !== undefined ? { expiresInSeconds: body.expiresInSeconds } : {}) })
  })
}
