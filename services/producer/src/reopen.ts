import {
  chunkJob,
  chunkJobId,
  chunkResultJobId,
  type ObjectStore,
  partManifestSchema,
  runKeys,
  type SummaryCounters,
} from '@phudge/core';
import type { Queue } from 'bullmq';
import type { RunRecord, RunStore } from './run-store.js';

export interface ReopenDeps {
  runs: RunStore;
  store: ObjectStore;
  chunks: Queue;
  results: Queue;
}

/**
 * Resumes a failed run (its resubmission): the failure is cleared, its failed chunks are uncounted
 * and graded again (their BullMQ jobs retried from the failed set, or added again when the set no
 * longer holds them), and an ingestion that failed is resumed. The run can then complete.
 * @returns false when the run was not failed (any more): nothing was changed.
 */
export async function reopenFailedRun(run: RunRecord, deps: ReopenDeps): Promise<boolean> {
  const { runs, store, chunks, results } = deps;
  const { runId } = run;
  const failed = await runs.failedChunks(runId);
  const manifests = await Promise.all(
    failed.map(async (chunk) =>
      partManifestSchema.parse(JSON.parse((await store.get(runKeys.part(runId, chunk))).toString('utf8'))),
    ),
  );
  const counters: SummaryCounters = {};
  for (const manifest of manifests) {
    for (const [name, value] of Object.entries(manifest.counters))
      counters[name] = (counters[name] ?? 0) + value;
  }
  if (!(await runs.reopen(runId, failed, counters))) return false;
  for (const manifest of manifests) {
    const { chunk } = manifest;
    // Its chunk-failed message was handled: a new failure must not be taken for that one.
    await results.remove(chunkResultJobId(runId, chunk, 'chunk-failed'));
    const job = await chunks.getJob(chunkJobId(runId, chunk));
    if (job && (await job.isFailed())) {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      continue;
    }
    if (job) continue; // waiting or active already
    const { name, data, opts } = chunkJob(runId, run.options, chunk, {
      uri: store.uri(runKeys.chunk(runId, chunk)),
      count: manifest.counters.items ?? manifest.count,
    });
    await chunks.add(name, data, opts);
  }
  return true;
}
