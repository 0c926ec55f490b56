// @wharf/runner: submits runs and supervises them on a compute target. Loaded by the SDK's
// `Experiment.submit` and by `wharf run submit` only; a script that only logs metrics never loads it.
export {}
