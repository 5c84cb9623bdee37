/**
 * Redis keys of a run's working state, under the fleet's prefix. The producer and the workers
 * import the same names, so that a key is never spelled twice.
 *
 * On a Redis Cluster a script may only touch keys of one slot, so every key of one run carries
 * the run id as a hash tag (`phudge:run:{<id>}:chunks`): a run's keys share a slot, and runs
 * spread over the cluster's nodes. A name's latest-run keys carry the name the same way. A single
 * Redis keeps the layout it always had (`phudge:run:<id>:chunks`), so that runs in flight when a
 * fleet upgrades keep their state.
 */
export function runRedisKeys(config: { queue: { prefix: string }; redis: { cluster: boolean } }) {
  const prefix = config.queue.prefix;
  const tag = config.redis.cluster ? (id: string) => `{${id}}` : (id: string) => id;
  return {
    /** The run's hash: state, options, progress counters. */
    run: (runId: string) => `${prefix}:run:${tag(runId)}`,
    /** The set of chunks already counted into the run's progress. */
    counted: (runId: string) => `${prefix}:run:${tag(runId)}:chunks`,
    /** The set of chunks counted as failed for good (a resubmission grades them again). */
    failed: (runId: string) => `${prefix}:run:${tag(runId)}:failed`,
    /** Per chunk, how many times its entries were handed to an engine (regrades show as > 1). */
    gradings: (runId: string) => `${prefix}:run:${tag(runId)}:gradings`,
    /** Which producer replica ingests the run now: a token with a TTL, renewed while it runs. */
    lease: (runId: string) => `${prefix}:run:${tag(runId)}:lease`,
    /** Runs whose ingestion has not finished: what a replica looks at to resume one. */
    unIngested: () => `${prefix}:runs:ingesting`,
    /** Runs in the store that need no rebuilding (finished, or without a manifest): the recovery scan skips them. */
    settled: () => `${prefix}:runs:settled`,
    /** The latest run of a recurring run's name, its next run's baseline. */
    latest: (name: string) => `${prefix}:latest:${tag(name)}`,
    /** The baseline a run of the name was given, beside the name's latest run (one slot). */
    baseline: (name: string, runId: string) => `${prefix}:latest:${tag(name)}:baseline:${runId}`,
  };
}
export type RunRedisKeys = ReturnType<typeof runRedisKeys>;
