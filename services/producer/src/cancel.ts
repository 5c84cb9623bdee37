import { chunkJobSchema, type ObjectStore, runKeys, withRetry } from '@phudge/core';
import type { Queue } from 'bullmq';
import type { Collector } from './collector.js';
import { runManifestOf, writeRunManifest } from './run-manifest.js';
import { isFinished, type RunRecord, type RunStore } from './run-store.js';
import type { RunEnding } from './webhooks.js';

export interface CancelDeps {
  runs: RunStore;
  store: ObjectStore;
  chunks: Queue;
  collector: Collector;
  /** Stops this replica's ingestion of the run, if it has one, and waits for it to stop. */
  stopIngestion(runId: string): Promise<void>;
  /** Enqueues the run.cancelled event for the run's webhooks. */
  notify(run: RunRecord, ending: RunEnding): Promise<void>;
}

/** The chunk job states that are not on an engine: a cancelled run's are removed. */
const NOT_STARTED = ['waiting', 'prioritized', 'delayed'] as const;

/**
 * Cancels a run: it becomes `cancelled` in Redis (every replica's ingestion of it stops at its
 * next bulk, and this one's at once), its chunks not yet on an engine are removed from the queue,
 * and run.json records the cancellation, so that a run rebuilt from the store stays cancelled.
 * Chunks already on an engine finish and are counted (the collector rewrites the summary as they
 * land). A run that had ended already is left as it is.
 * @returns the run as it is now.
 */
export async function cancelRun(run: RunRecord, deps: CancelDeps): Promise<RunRecord> {
  const { runs, store, chunks, collector } = deps;
  const { runId } = run;
  if (isFinished(run) || !(await runs.cancel(runId))) return (await runs.get(runId)) ?? run;
  await deps.stopIngestion(runId);
  // The queue holds at most PHUDGE_MAX_QUEUE_DEPTH chunks not started (plus a bulk per ingesting
  // run): one listing is bounded.
  for (const job of await chunks.getJobs([...NOT_STARTED])) {
    const parsed = chunkJobSchema.safeParse(job?.data);
    if (!job || !parsed.success || parsed.data.runId !== runId) continue;
    // A job a worker took meanwhile is locked: it is on an engine now, and is kept.
    await job.remove().catch(() => {});
  }
  const cancelled = (await runs.get(runId)) ?? run;
  if (cancelled.input) {
    const totals = cancelled.ingested
      ? { chunks: cancelled.chunks ?? 0, items: cancelled.items ?? 0 }
      : undefined;
    const manifest = {
      ...runManifestOf({ ...cancelled, input: cancelled.input }, totals),
      cancelledAt: new Date(cancelled.completedAt ?? Date.now()).toISOString(),
    };
    await withRetry(() => writeRunManifest(store, manifest));
  }
  await withRetry(() => collector.writeCancelledSummary(runId));
  // What was counted at the cancellation: chunks still on an engine grow the summary, not the event.
  await withRetry(() => deps.notify(cancelled, { reportUri: store.uri(runKeys.report(runId)) }));
  return cancelled;
}
