import type { BatchReport, EngineStats } from '@phudge/judge';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A gauge that reports how fast `read()` grew per second between the previous scrape and this one (at most `cap`). */
function rateGauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => Promise<number>,
  cap = Number.POSITIVE_INFINITY,
): Gauge {
  let last = { at: performance.now(), value: 0 };
  return new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      const now = { at: performance.now(), value: await read() };
      const seconds = (now.at - last.at) / 1000;
      this.set(seconds > 0 ? Math.min(cap, (now.value - last.value) / seconds) : 0);
      last = now;
    },
  });
}

/**
 * The worker's Prometheus metrics. Rates (items/s, engine busy ratio) are measured between two
 * scrapes, so each scrape reports the interval since the last one.
 */
export function workerMetrics(engineStats: () => EngineStats | undefined) {
  const registry = new Registry();
  const itemsGraded = new Counter({
    name: 'phudge_items_graded_total',
    help: 'Items graded (error records included)',
    registers: [registry],
  });
  const metrics = {
    registry,
    itemsGraded,
    // A chunk's grading number is 1 the first time its entries reach an engine; 2 and more are
    // regrades (a worker died or drained after it had started the chunk).
    chunksGraded: new Counter({
      name: 'phudge_chunks_graded_total',
      help: 'Chunks graded by this worker, by how many times the chunk had been graded (1, 2, 3+)',
      labelNames: ['grading'] as const,
      registers: [registry],
    }),
    itemsRegraded: new Counter({
      name: 'phudge_items_regraded_total',
      help: 'Items graded again because their chunk had been graded before (a regrade)',
      registers: [registry],
    }),
    chunksDone: new Counter({
      name: 'phudge_chunks_total',
      help: 'Chunk jobs finished, by outcome: ok, failed, cancelled (its run was cancelled: dropped ungraded)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: 'phudge_batch_rows',
      help: 'Prompts per model batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    batchTokens: new Histogram({
      name: 'phudge_batch_tokens',
      help: 'Padded tokens per model batch',
      buckets: [256, 1024, 2048, 4096, 8192, 16384, 32768],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'phudge_batch_seconds',
      help: 'Seconds a model batch spent inside session.run (its latency on the engine)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    paddingEfficiency: new Gauge({
      name: 'phudge_padding_efficiency',
      help: 'Real tokens / padded tokens, all batches so far',
      registers: [registry],
    }),
    jobWait: new Histogram({
      name: 'phudge_job_wait_seconds',
      help: 'Time from a chunk job being added to a worker starting it',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    }),
    itemsPerSecond: rateGauge(
      registry,
      'phudge_items_per_second',
      'Items graded per second since the previous scrape',
      async () => (await itemsGraded.get()).values[0]?.value ?? 0,
    ),
    // Seconds in session.run per wall second: the engine's busy share, since the previous scrape.
    engineBusy: rateGauge(
      registry,
      'phudge_engine_busy_ratio',
      'Share of wall time the engine spent in session.run since the previous scrape',
      async () => (engineStats()?.runMs ?? 0) / 1000,
      1, // a batch that ends just after a scrape is counted whole in the next interval
    ),
  };
  let real = 0;
  let padded = 0;
  const onBatch = (report: BatchReport) => {
    metrics.batchRows.observe(report.rows);
    metrics.batchTokens.observe(report.rows * report.columns);
    metrics.batchSeconds.observe(report.runMs / 1000);
    real += report.realTokens;
    padded += report.rows * report.columns;
    metrics.paddingEfficiency.set(real / padded);
  };
  return { ...metrics, onBatch };
}
export type WorkerMetrics = ReturnType<typeof workerMetrics>;
