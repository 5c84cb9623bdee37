// BENCHMARK HARNESS ONLY, never a production code path: a stand-in for the judge that takes a
// fixed time per batch of up to 64 items and no CPU (no tokenizing, no model), as a GPU judge
// would look to a host with cores to spare, so that a benchmark measures coordination alone:
// queues, the store, the producer and the collector.
import { setTimeout as sleep } from 'node:timers/promises';
import { DrainingError } from '@phudge/judge';

const BATCH = 64;

/** @returns a WorkerService `openGrader` whose batches run one at a time, `msPerBatch` each. */
export function fixedLatencyGrader(msPerBatch) {
  return async () => {
    const stats = { batches: 0, rows: 0, runMs: 0 };
    const modelId = 'fixed-latency-stand-in@0';
    let queue = Promise.resolve();
    let draining = false;
    return {
      modelId,
      engine: { provider: `fixed-latency stand-in (${msPerBatch} ms per batch)`, stats },
      async gradeEntries(entries, cost) {
        // Each entry's share of its batches' fixed time, as the judge shares out model time.
        if (cost) cost.engineMs += (msPerBatch * entries.length) / BATCH;
        if (draining) throw new DrainingError('draining');
        for (let i = 0; i < entries.length; i += BATCH) {
          const rows = Math.min(BATCH, entries.length - i);
          queue = queue.then(async () => {
            await sleep(msPerBatch);
            stats.batches += 1;
            stats.rows += rows;
            stats.runMs += msPerBatch;
          });
        }
        await queue;
        return entries.map((entry) =>
          'error' in entry
            ? { ...(entry.id ? { id: entry.id } : {}), line: entry.line, error: entry.error }
            : { id: entry.request.id, score: 3, truncated: false, tokens: 0, model: modelId },
        );
      },
      drain() {
        draining = true;
      },
      async close() {
        await queue;
      },
    };
  };
}
