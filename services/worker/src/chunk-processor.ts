import {
  type ChunkEntry,
  chunkEntrySchema,
  chunkJobSchema,
  ForeignUriError,
  type Logger,
  NotFoundError,
  type ObjectStore,
  parseJsonl,
  type ResultMessage,
  resultJobId,
  runKeys,
  toJsonl,
} from '@phudge/core';
import { DrainingError, type Judge } from '@phudge/judge';
import type { Job, Queue } from 'bullmq';
import { UnrecoverableError as BullUnrecoverable, WaitingError } from 'bullmq';
import type { WorkerMetrics } from './metrics.js';

/**
 * Grades one chunk job: results object at its deterministic key, then the results-queue message,
 * then (on return) the ack. A retried or re-delivered chunk whose results object exists is not
 * graded again, so at-least-once delivery gives exactly-once results.
 */
export class ChunkProcessor {
  constructor(
    private readonly judge: Judge,
    private readonly store: ObjectStore,
    private readonly results: Queue,
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
  ) {}

  async process(job: Job, token?: string): Promise<{ count: number; regraded: boolean }> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new BullUnrecoverable(`malformed chunk job: ${parsed.error.issues[0]?.message}`);
    const { runId, chunk, uri } = parsed.data;
    const log = this.logger.child({ runId, jobId: job.id, chunk });
    if (job.attemptsStarted <= 1) this.metrics.jobWait.observe((Date.now() - job.timestamp) / 1000);

    const resultsKey = runKeys.results(runId, chunk);
    let count = parsed.data.count;
    const regraded = !(await this.store.exists(resultsKey));
    if (regraded) {
      const entries = await this.readChunk(uri);
      let records: Awaited<ReturnType<Judge['gradeEntries']>>;
      try {
        records = await this.judge.gradeEntries(entries);
      } catch (error) {
        if (!(error instanceof DrainingError)) throw error;
        // Draining: this chunk has not reached the engine; hand it back to another worker.
        await job.moveToWait(token);
        log.info('chunk handed back while draining');
        throw new WaitingError();
      }
      await this.store.put(resultsKey, toJsonl(records));
      count = records.length;
      this.metrics.itemsGraded.inc(count);
    } else {
      log.info('results already written by an earlier attempt; publishing only');
    }
    const message: ResultMessage = { type: 'chunk', runId, chunk, uri: this.store.uri(resultsKey), count };
    await this.results.add('chunk', message, { jobId: resultJobId(message) });
    this.metrics.chunksDone.inc({ outcome: 'ok' });
    log.debug({ count }, 'chunk graded');
    return { count, regraded };
  }

  /** Publishes a chunk that failed for good, so that its run can end instead of waiting forever. */
  async publishFailure(job: Job, error: Error): Promise<void> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success) return;
    const { runId, chunk, count } = parsed.data;
    const message: ResultMessage = { type: 'chunk-failed', runId, chunk, count, reason: error.message };
    await this.results.add('chunk-failed', message, { jobId: resultJobId(message) });
    this.metrics.chunksDone.inc({ outcome: 'failed' });
  }

  /** The chunk's entries; a missing, foreign or corrupt chunk can never succeed and fails for good. */
  private async readChunk(uri: string): Promise<ChunkEntry[]> {
    let body: Buffer;
    try {
      body = await this.store.get(this.store.keyOf(uri));
    } catch (error) {
      if (error instanceof NotFoundError) throw new BullUnrecoverable(`chunk object ${uri} does not exist`);
      if (error instanceof ForeignUriError) throw new BullUnrecoverable(error.message);
      throw error;
    }
    try {
      return parseJsonl(body).map((line) => chunkEntrySchema.parse(line));
    } catch (error) {
      throw new BullUnrecoverable(`chunk object ${uri} is corrupt: ${(error as Error).message}`);
    }
  }
}
