import { randomUUID } from 'node:crypto';
import {
  bullConnection,
  closeEach,
  connectRedis,
  createServiceServer,
  inputPolicyFromConfig,
  type Logger,
  type ObjectStore,
  openStore,
  type PhudgeConfig,
  QUEUES,
  queueOptions,
  type RunOptions,
  resultMessageSchema,
  Service,
  UnrecoverableError,
} from '@phudge/core';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { registerApi, sumPending } from './api.js';
import { TokenVerifier, tokensFromConfig } from './auth.js';
import { Collector } from './collector.js';
import { Ingestor, type RunInput, submissionDigest } from './ingest.js';
import { type ProducerMetrics, producerMetrics } from './metrics.js';
import { RunStore } from './run-store.js';

/** Results-queue messages handled at once: each is a small store read and a Redis script. */
const COLLECTOR_CONCURRENCY = 8;

/**
 * The producer service: the HTTP API, run ingestion into chunk jobs, and the collector that
 * turns chunk results into run progress and summaries.
 */
export class ProducerService extends Service {
  private readonly ingestions = new Map<string, AbortController>();
  private redis: Redis | undefined;
  private store: ObjectStore | undefined;
  private chunks: Queue | undefined;
  private results: Queue | undefined;
  private collector: Worker | undefined;
  private metrics: ProducerMetrics | undefined;
  private runs: RunStore | undefined;
  private ingestor: Ingestor | undefined;

  constructor(
    private readonly config: PhudgeConfig,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** Connects, starts the collector and the API; `running` when it returns. */
  async start(): Promise<void> {
    const { config, logger } = this;
    const tokens = tokensFromConfig(config);
    if (tokens.length === 0) {
      throw new UnrecoverableError(
        'api.tokens: PHUDGE_API_TOKENS is empty; the producer does not serve without a token',
      );
    }
    await this.starting(async () => {
      this.store = openStore(config);
      this.redis = await connectRedis(config.redis.url, 'client');
      const options = queueOptions(config);
      this.chunks = new Queue(QUEUES.chunks, {
        connection: bullConnection(config.redis.url, 'client'),
        ...options,
      });
      this.results = new Queue(QUEUES.results, {
        connection: bullConnection(config.redis.url, 'client'),
        ...options,
      });
      this.runs = new RunStore(this.redis, config.queue.prefix);
      this.ingestor = new Ingestor(this.store, this.chunks, this.results, this.runs, config.producer, logger);
      const chunks = this.chunks;
      this.metrics = producerMetrics(async () => sumPending(await chunks.getJobCounts()));
      const metrics = this.metrics;
      const collector = new Collector(this.store, this.runs, logger, (run) =>
        metrics.runsFinished.inc({ state: run.state }),
      );
      this.collector = new Worker(
        QUEUES.results,
        async (job) => {
          await collector.handle(resultMessageSchema.parse(job.data));
          metrics.chunksCollected.inc();
        },
        {
          connection: bullConnection(config.redis.url, 'worker'),
          prefix: config.queue.prefix,
          concurrency: COLLECTOR_CONCURRENCY,
        },
      );
      this.collector.on('failed', (job, error) =>
        logger.warn({ jobId: job?.id, err: error }, 'results message failed; it will be retried'),
      );

      this.app = createServiceServer({
        lifecycle: this.lifecycle,
        metrics: metrics.registry,
        logger,
        bodyLimit: config.api.bodyLimitBytes,
      });
      registerApi(this.app, {
        config,
        verifier: new TokenVerifier(tokens),
        inputs: inputPolicyFromConfig(config),
        store: this.store,
        runs: this.runs,
        submit: (runId, input, description, runOptions, chunkSize) =>
          this.submit(runId, input, description, runOptions, chunkSize),
        queueCounts: () => chunks.getJobCounts(),
      });
      await this.app.listen({ port: config.port, host: config.host });
    });
    logger.info({ port: this.port, store: this.store?.url }, 'producer running');
  }

  /**
   * Stops taking requests, interrupts ingestions (a resubmission of the run resumes them), stops
   * the collector and closes connections. Each step runs even if an earlier one fails.
   */
  async stop(): Promise<void> {
    if (!this.lifecycle.beginStop()) return;
    for (const controller of this.ingestions.values()) controller.abort();
    const { app, collector, chunks, results, redis, store } = this;
    await closeEach(
      [
        ['http server', app && (() => app.close())],
        ['collector', collector && (() => collector.close())],
        ['chunks queue', chunks && (() => chunks.close())],
        ['results queue', results && (() => results.close())],
        ['redis', redis && (() => redis.quit())],
        ['store', store && (() => store.close())],
      ],
      this.logger,
    );
    this.lifecycle.to('stopped');
  }

  private async submit(
    requestedId: string | undefined,
    input: RunInput,
    description: { uri: string } | { items: unknown[] },
    options: RunOptions,
    chunkSize?: number,
  ): Promise<{ runId: string; created: boolean } | { conflict: string }> {
    const runs = this.runs as RunStore;
    const runId = requestedId ?? randomUUID();
    const digest = submissionDigest(description, options);
    const { created, run } = await runs.create(runId, options, digest);
    if (!created && run.digest !== digest) {
      return { conflict: `run ${runId} exists with another input or options; choose another runId` };
    }
    if (created) this.metrics?.runsSubmitted.inc();
    // A new run is ingested; an existing one only if its ingestion never finished (a producer
    // crashed mid-way): chunks already graded are skipped and job ids dedupe the rest.
    if (!run.ingested && !this.ingestions.has(runId))
      this.startIngestion(runId, input, run.options, chunkSize);
    else if ('lines' in input) input.lines.destroy();
    return { runId, created };
  }

  private startIngestion(runId: string, input: RunInput, options: RunOptions, chunkSize?: number): void {
    const controller = new AbortController();
    this.ingestions.set(runId, controller);
    const log = this.logger.child({ runId });
    (this.ingestor as Ingestor)
      .ingest(runId, input, options, chunkSize, controller.signal)
      .then(({ items }) => this.metrics?.itemsIngested.inc(items))
      .catch(async (error: Error) => {
        if (controller.signal.aborted) {
          log.warn('ingestion interrupted by shutdown; resubmit the run to resume it');
          return;
        }
        log.error({ err: error }, 'ingestion failed');
        await (this.runs as RunStore)
          .finish(runId, 'failed', `ingestion failed: ${error.message}`)
          .catch(() => {});
      })
      .finally(() => this.ingestions.delete(runId));
  }
}
