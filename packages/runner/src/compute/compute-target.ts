/** What a compute target is told to start: the runner for one run, which needs nothing but this environment. */
export interface LaunchOptions {
  runId: string
  /** WHARF_TRACKING_URI, WHARF_WORKSPACE, WHARF_RUN_ID and WHARF_RUN_TOKEN: all the runner needs. */
  env: Record<string, string>
  /**
   * The submitted source folder on the submitting machine. A target on that machine lets the runner
   * copy unchanged files from it instead of downloading the snapshot, and reach its node_modules.
   */
  sourceDirectory?: string
  signal?: AbortSignal
}

/**
 * Where a submitted run executes. `launch` starts the runner (`@wharf/runner`'s bin) for the run and
 * resolves once it started; the runner does the rest from the run id. `local` is this machine; a
 * Kubernetes Job target would run the same bin in a pod with the same environment (decision 0025).
 */
export interface ComputeTarget {
  readonly name: string
  launch(options: LaunchOptions): Promise<void>
}
