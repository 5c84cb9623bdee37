import { randomUUID } from 'node:crypto';
import {
  BullConnections,
  closeEach,
  connectRedis,
  createServiceServer,
  inputPolicyFromConfig,
  isTransient,
  type Logger,
  logRedisErrors,
  type ObjectStore,
  openStore,
  type PhudgeConfig,
  QUEUES,
  queueOptions,
  queuePrefix,
  type RedisClient,
  type RunOptions,
  type RunSource,
  resultMessageSchema,
  retryLater,
  runKeys,
  runRedisKeys,
  Service,
  toJsonl,
  UnrecoverableError,
  withRetry,
} from '@phudge/core';
import { Queue, Worker } from 'bullmq';
import { registerAdmin } from './admin.js';
import { AdminSessions } from './admin-sessions.js';
import { registerApi, sumPending } from './api.js';
import { TokenVerifier, tokensFromConfig } from './auth.js';
import { cancelRun } from './cancel.js';
import { Collector } from './collector.js';
import { closeInput, Ingestor, type RunDescription, type RunInput, submissionDigest } from './ingest.js';
import { Ingestions } from './ingestions.js';
import { IngestionLeases } from './lease.js';
import { type ProducerMetrics, producerMetrics } from './metrics.js';
import { RunRecovery } from './recovery.js';
import { reopenFailedRun } from './reopen.js';
import { runManifestOf, writeRunManifest } from './run-manifest.js';
import { RunStore } from './run-store.js';
import { WebhookNotifier, webhookQueue, webhookWorker } from './webhooks.js';

/** Results-queue messages handled at once: each is a small store read and a Redis script. */
const COLLECTOR_CONCURRENCY = 8;

/**
 * The producer service: the HTTP API, run ingestion into chunk jobs, and the collector that
 * turns chunk results into run progress and summaries.
 */
export class ProducerService extends Service {
  private redis: RedisClient | undefined;
  private bull: BullConnections | undefined;
  private store: ObjectStore | undefined;
  private chunks: Queue | undefined;
  private results: Queue | undefined;
  private webhooks: Queue | undefined;
  private collector: Worker | undefined;
  private deliveries: Worker | undefined;
  private metrics: ProducerMetrics | undefined;
  private runs: RunStore | undefined;
  private ingestions: Ingestions | undefined;
  private recovery: RunRecovery | undefined;

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
      this.redis = await connectRedis(config.redis, 'client');
      const bull = new BullConnections(config.redis);
      this.bull = bull;
      const options = queueOptions(config);
      this.chunks = new Queue(QUEUES.chunks, { connection: bull.for('client'), ...options });
      this.results = new Queue(QUEUES.results, { connection: bull.for('client'), ...options });
      this.webhooks = webhookQueue(config, bull);
      const keys = runRedisKeys(config);
      this.runs = new RunStore(this.redis, keys);
      const chunks = this.chunks;
      this.metrics = producerMetrics(async () => sumPending(await chunks.getJobCounts()));
      const metrics = this.metrics;
      const notifier = new WebhookNotifier(this.webhooks, config);
      const notify = notifier.notify.bind(notifier);
      this.deliveries = webhookWorker(config, bull, logger, (outcome) =>
        metrics.webhookDeliveries.inc({ outcome }),
      );
      const inputs = inputPolicyFromConfig(config);
      this.ingestions = new Ingestions(
        {
          runs: this.runs,
          leases: new IngestionLeases(this.redis, keys, config.producer.leaseMs),
          ingestor: new Ingestor(
            this.store,
            this.chunks,
            this.results,
            this.runs,
            config.producer,
            logger,
            (count) => metrics.chunksEnqueued.inc(count),
          ),
          store: this.store,
          s3: config.s3,
          inputs,
          logger,
          onStarted: (kind) => metrics.ingestionsStarted.inc({ kind }),
          onIngested: (items) => metrics.itemsIngested.inc(items),
          onFailed: async (runId) => {
            const run = await (this.runs as RunStore).get(runId);
            // No report: the run never got as far as one.
            if (run) await withRetry(() => notify(run, { reportUri: null }));
          },
        },
        config.producer.resumeIntervalMs,
      );
      this.recovery = new RunRecovery(
        { runs: this.runs, store: this.store, chunks: this.chunks, results: this.results, logger },
        config.producer.recoveryIntervalMs,
      );
      const recovery = this.recovery;
      const ingestions = this.ingestions;
      const runs = this.runs;
      const store = this.store;
      const collector = new Collector(this.store, this.runs, logger, {
        onFinished: (run) => metrics.runsFinished.inc({ state: run.state }),
        rebuild: (runId) => recovery.rebuild(runId),
        gpuHourPrice: config.producer.gpuHourPrice,
        notify,
      });
      this.collector = new Worker(
        QUEUES.results,
        async (job, token) => {
          try {
            const message = resultMessageSchema.parse(job.data);
            // Handling is idempotent: a blip is retried in place, a longer outage later.
            await withRetry(() => collector.handle(message));
          } catch (error) {
            if (!isTransient(error)) throw error;
            // The store or Redis is away: count this chunk later, without spending an attempt.
            logger.warn(
              { jobId: job.id, err: error },
              'results message met a transient fault; retried later',
            );
            return retryLater(job, token, config.queue.backoffMs);
          }
          metrics.chunksCollected.inc();
        },
        {
          connection: bull.for('worker'),
          prefix: queuePrefix(config),
          concurrency: COLLECTOR_CONCURRENCY,
          // A killed producer's results messages move to another replica after the same lock
          // as a killed worker's chunks (BullMQ's 30 s default would hold a run's end that long).
          lockDuration: config.worker.lockDurationMs,
          stalledInterval: config.worker.stalledIntervalMs,
        },
      );
      this.collector.on('failed', (job, error) =>
        logger.warn({ jobId: job?.id, err: error }, 'results message failed; it will be retried'),
      );
      logRedisErrors(logger, {
        'chunks queue': this.chunks,
        'results queue': this.results,
        'webhooks queue': this.webhooks,
        collector: this.collector,
        'webhook deliveries': this.deliveries,
      });

      this.app = createServiceServer({
        lifecycle: this.lifecycle,
        metrics: metrics.registry,
        logger,
        bodyLimit: config.api.bodyLimitBytes,
      });
      const verifier = new TokenVerifier(tokens);
      registerApi(this.app, {
        config,
        verifier,
        inputs,
        store: this.store,
        runs: this.runs,
        submit: (runId, input, description, runOptions, chunkSize) =>
          this.submit(runId, input, description, runOptions, chunkSize),
        queueCounts: () => chunks.getJobCounts(),
        rebuild: (runId) => recovery.rebuild(runId),
        cancel: (run) =>
          cancelRun(run, {
            runs,
            store,
            chunks,
            collector,
            stopIngestion: (runId) => ingestions.stopRun(runId),
            notify,
          }),
      });
      registerAdmin(this.app, {
        verifier,
        sessions: new AdminSessions(tokens),
        queues: [this.chunks, this.results, this.webhooks],
      });
      await this.app.listen({ port: config.port, host: config.host });
      this.ingestions.start();
      this.recovery.start();
    });
    logger.info({ port: this.port, store: this.store?.url }, 'producer running');
  }

  /**
   * Stops taking requests, stops its ingestions and releases their leases (another replica, or
   * this one restarted, resumes them), stops the collector and closes connections. Each step runs
   * even if an earlier one fails.
   */
  async stop(): Promise<void> {
    if (!this.lifecycle.beginStop()) return;
    const {
      app,
      ingestions,
      recovery,
      collector,
      deliveries,
      chunks,
      results,
      webhooks,
      bull,
      redis,
      store,
    } = this;
    recovery?.stop();
    await closeEach(
      [
        ['http server', app && (() => app.close())],
        ['ingestions', ingestions && (() => ingestions.stop())],
        ['collector', collector && (() => collector.close())],
        ['webhook deliveries', deliveries && (() => deliveries.close())],
        ['chunks queue', chunks && (() => chunks.close())],
        ['results queue', results && (() => results.close())],
        ['webhooks queue', webhooks && (() => webhooks.close())],
        // After every queue and worker built on them.
        ['queue connections', bull && (() => bull.close())],
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
    description: RunDescription,
    options: RunOptions,
    chunkSize?: number,
  ): Promise<{ runId: string; created: boolean } | { conflict: string }> {
    const runs = this.runs as RunStore;
    const runId = requestedId ?? randomUUID();
    const digest = submissionDigest(description, options);
    const conflict = { conflict: `run ${runId} exists with another input or options; choose another runId` };
    // A run Redis lost is rebuilt from the store first: a resubmission resumes it, never starts it over.
    let run = (await runs.get(runId)) ?? (await (this.recovery as RunRecovery).rebuild(runId));
    let created = false;
    if (!run) {
      // Inline items, or the exact files a prefix or glob expanded to, go to the store first, so
      // that an interrupted ingestion reads the same input again.
      const store = this.store as ObjectStore;
      let source: RunSource;
      const only = 'files' in input && input.files.files.length === 1 ? input.files.files[0] : undefined;
      if ('uri' in description && only?.uri === description.uri) {
        // One file named as it is: the URI itself says where to read again, no store write needed.
        source = { uri: description.uri };
      } else if ('files' in input) {
        const files = JSON.stringify({ uris: input.files.files.map((file) => file.uri) });
        await withRetry(() => store.put(runKeys.inputFiles(runId), files));
        source = { files: runKeys.inputFiles(runId) };
      } else {
        const items = toJsonl('items' in description ? description.items : []);
        await withRetry(() => store.put(runKeys.input(runId), items));
        source = { stored: runKeys.input(runId) };
      }
      ({ created, run } = await runs.create(runId, {
        options,
        digest,
        input: source,
        chunkSize: chunkSize ?? this.config.producer.chunkSize,
      }));
      // The store is the source of truth: run.json is enough to rebuild the run if Redis loses it.
      if (created) {
        const manifest = runManifestOf({ ...run, input: source });
        await withRetry(() => writeRunManifest(this.store as ObjectStore, manifest));
      }
    }
    if (run.digest !== digest) {
      await closeInput(input);
      return conflict;
    }
    if (created) this.metrics?.runsSubmitted.inc();
    // Resubmitting a failed run resumes it: failed chunks are graded again, a failed ingestion resumed.
    if (run.state === 'failed') {
      const reopened = await reopenFailedRun(run, {
        runs,
        store: this.store as ObjectStore,
        chunks: this.chunks as Queue,
        results: this.results as Queue,
      });
      if (reopened) this.logger.info({ runId }, 'failed run resubmitted: resuming it');
      run = (await runs.get(runId)) ?? run;
    }
    // A new run is ingested here; an existing one only if its ingestion never finished and no
    // replica owns it (the lease decides): chunks already enqueued or graded are skipped.
    if (!run.ingested) await (this.ingestions as Ingestions).claim(runId, input);
    else await closeInput(input);
    return { runId, created };
  }
}
