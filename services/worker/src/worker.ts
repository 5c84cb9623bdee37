import {
  BullConnections,
  closeEach,
  connectRedis,
  createServiceServer,
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
  retryLater,
  runRedisKeys,
  Service,
} from '@phudge/core';
import { type Judge, openConfiguredJudge } from '@phudge/judge';
import { UnrecoverableError as BullUnrecoverable, type Job, Queue, Worker } from 'bullmq';
import type { ChunkGrader } from './chunk-processor.js';
import { ChunkProcessor } from './chunk-processor.js';
import { GradingCounter } from './grading-counter.js';
import { type WorkerMetrics, workerMetrics } from './metrics.js';
import { RunStates } from './run-state.js';

/** How often a killed worker's chunks may be taken over before the chunk fails for good. */
const MAX_STALLED_COUNT = 3;

export interface WorkerServiceOptions {
  config: PhudgeConfig;
  logger: Logger;
  /** The judge bundle: a directory, or an s3:// URI downloaded once into PHUDGE_MODEL_CACHE. */
  model: string;
  /**
   * Opens what grades the chunks. @defaultValue the judge of `model` on its engine thread
   * (a benchmark passes a stand-in to measure coordination alone)
   */
  openGrader?: (onBatch: WorkerMetrics['onBatch']) => Promise<ChunkGrader>;
}

/**
 * A grading worker: one engine thread with one ORT session for the process's life, warmed before
 * the first job, and a BullMQ consumer holding several chunk jobs at once so that their items
 * share model batches. Health and metrics are served from the start; ready once warm.
 */
export class WorkerService extends Service {
  private store: ObjectStore | undefined;
  private results: Queue | undefined;
  private redis: RedisClient | undefined;
  private bull: BullConnections | undefined;
  private consumer: Worker | undefined;
  private grader: ChunkGrader | undefined;
  private readonly metrics: WorkerMetrics;

  constructor(private readonly options: WorkerServiceOptions) {
    super();
    this.metrics = workerMetrics(() => this.grader?.engine.stats);
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    await this.starting(async () => {
      this.store = openStore(config);
      this.app = createServiceServer({ lifecycle: this.lifecycle, metrics: this.metrics.registry, logger });
      await this.app.listen({ port: config.port, host: config.host });

      this.lifecycle.to('warming');
      this.grader = await (this.options.openGrader ?? ((onBatch) => this.openJudge(onBatch)))(
        this.metrics.onBatch,
      );
      logger.info({ model: this.grader.modelId, provider: this.grader.engine.provider }, 'judge warm');

      const bull = new BullConnections(config.redis);
      this.bull = bull;
      this.results = new Queue(QUEUES.results, { connection: bull.for('worker'), ...queueOptions(config) });
      logRedisErrors(logger, { 'results queue': this.results });
      this.redis = await connectRedis(config.redis, 'worker');
      const keys = runRedisKeys(config);
      const gradings = new GradingCounter(this.redis, keys);
      const processor = new ChunkProcessor(
        this.grader,
        this.store,
        this.results,
        gradings,
        this.metrics,
        logger,
        new RunStates(this.redis, keys),
      );
      const process = async (job: Job, token?: string) => {
        try {
          return await processor.process(job, token);
        } catch (error) {
          if (!isTransient(error)) throw error;
          // The store or Redis is away: try again later, without spending one of the chunk's
          // attempts, so that an outage never fails a chunk for good.
          logger.warn({ jobId: job.id, err: error }, 'chunk met a transient fault; retried later');
          return retryLater(job, token, config.queue.backoffMs);
        }
      };
      this.consumer = new Worker(QUEUES.chunks, process, {
        connection: bull.for('worker'),
        prefix: queuePrefix(config),
        concurrency: config.worker.concurrency,
        lockDuration: config.worker.lockDurationMs,
        stalledInterval: config.worker.stalledIntervalMs,
        maxStalledCount: MAX_STALLED_COUNT,
      });
      this.consumer.on('failed', (job, error) => {
        if (!job) return;
        const final = error instanceof BullUnrecoverable || job.attemptsMade >= (job.opts.attempts ?? 1);
        logger.warn({ jobId: job.id, attempt: job.attemptsMade, final, err: error }, 'chunk failed');
        if (final) void this.publishFailure(processor, job, error);
      });
      this.consumer.on('error', (error) => logger.error({ err: error }, 'queue consumer error'));
    });
    logger.info({ port: this.port, concurrency: config.worker.concurrency }, 'worker running');
  }

  /**
   * Drains: the batches on the engine finish and their chunks are written and acked; chunks not
   * yet on the engine go back to the queue for another worker. Then everything closes, each step
   * even if an earlier one failed.
   */
  async stop(): Promise<void> {
    if (!this.lifecycle.beginStop()) return;
    const { logger, config } = this.options;
    const { consumer, grader, results, bull, redis, app, store } = this;
    grader?.drain();
    await closeEach(
      [
        ['queue consumer', consumer && (() => withTimeout(consumer.close(), config.worker.drainTimeoutMs))],
        ['engine', grader && (() => grader.close())],
        ['results queue', results && (() => results.close())],
        // After every queue and worker built on them.
        ['queue connections', bull && (() => bull.close())],
        ['redis', redis && (() => redis.quit())],
        ['http server', app && (() => app.close())],
        ['store', store && (() => store.close())],
      ],
      logger,
    );
    this.lifecycle.to('stopped');
  }

  private openJudge(onBatch: WorkerMetrics['onBatch']): Promise<Judge> {
    const { config, logger, model } = this.options;
    return openConfiguredJudge(config, model, { onWarning: (message) => logger.warn(message), onBatch });
  }

  private async publishFailure(processor: ChunkProcessor, job: Job, error: Error): Promise<void> {
    try {
      await processor.publishFailure(job, error);
    } catch (publishError) {
      this.options.logger.error({ err: publishError, jobId: job.id }, 'could not publish a failed chunk');
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
