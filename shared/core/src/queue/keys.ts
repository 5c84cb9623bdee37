/**
 * Redis keys of a run's working state, under the fleet's prefix. The producer and the workers
 * import the same names, so that a key is never spelled twice.
 */
export function runRedisKeys(prefix: string) {
  return {
    /** The run's hash: state, options, progress counters. */
    run: (runId: string) => `${prefix}:run:${runId}`,
    /** The set of chunks already counted into the run's progress. */
    counted: (runId: string) => `${prefix}:run:${runId}:chunks`,
    /** The set of chunks counted as failed for good (a resubmission grades them again). */
    failed: (runId: string) => `${prefix}:run:${runId}:failed`,
    /** Per chunk, how many times its entries were handed to an engine (regrades show as > 1). */
    gradings: (runId: string) => `${prefix}:run:${runId}:gradings`,
    /** Which producer replica ingests the run now: a token with a TTL, renewed while it runs. */
    lease: (runId: string) => `${prefix}:run:${runId}:lease`,
    /** Runs whose ingestion has not finished: what a replica looks at to resume one. */
    unIngested: () => `${prefix}:runs:ingesting`,
    /** Runs in the store that need no rebuilding (finished, or without a manifest): the recovery scan skips them. */
    settled: () => `${prefix}:runs:settled`,
    /** The latest run of a recurring run's name, its next run's baseline. */
    latest: (name: string) => `${prefix}:latest:${name}`,
  };
}
export type RunRedisKeys = ReturnType<typeof runRedisKeys>;
