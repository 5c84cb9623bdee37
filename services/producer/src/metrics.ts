import { Counter, Gauge, Registry } from 'prom-client';

/** The producer's Prometheus metrics, on a registry of its own (several services can share a process in tests). */
export function producerMetrics(queueDepth: () => Promise<number>) {
  const registry = new Registry();
  return {
    registry,
    runsSubmitted: new Counter({
      name: 'phudge_runs_submitted_total',
      help: 'Runs accepted by POST /v1/runs or /v1/grade',
      registers: [registry],
    }),
    runsFinished: new Counter({
      name: 'phudge_runs_finished_total',
      help: 'Runs that ended, by final state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    ingestionsStarted: new Counter({
      name: 'phudge_ingestions_started_total',
      help: 'Ingestions this producer started: of a new run (submitted), or taken over from a replica that died or stopped (resumed)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    itemsIngested: new Counter({
      name: 'phudge_items_ingested_total',
      help: 'Input lines cut into chunks',
      registers: [registry],
    }),
    chunksEnqueued: new Counter({
      name: 'phudge_chunks_enqueued_total',
      help: 'Chunks stored and enqueued by ingestion (a resumed ingestion skips those enqueued before)',
      registers: [registry],
    }),
    chunksCollected: new Counter({
      name: 'phudge_chunks_collected_total',
      help: 'Results-queue messages processed',
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'phudge_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome: delivered, retried (it will be tried again) or failed (given up)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'phudge_queue_pending_chunks',
      help: 'Chunk jobs not finished (waiting, prioritized, delayed for retry, or active): the autoscaling signal',
      registers: [registry],
      async collect() {
        this.set(await queueDepth());
      },
    }),
  };
}
export type ProducerMetrics = ReturnType<typeof producerMetrics>;
