import {
  type ChunkEntry,
  chunkEntrySchema,
  chunkJobSchema,
  ForeignUriError,
  type Logger,
  NotFoundError,
  type ObjectStore,
  type PartManifest,
  parseJsonl,
  partManifestSchema,
  type ResultMessage,
  type ResultRecord,
  resultJobId,
  resultRecordSchema,
  runKeys,
  SummaryBuilder,
  toJsonl,
  withRetry,
} from '@phudge/core';
import { DrainingError, type Judge, type ModelEngine } from '@phudge/judge';
import type { Job, Queue } from 'bullmq';
import { UnrecoverableError as BullUnrecoverable, WaitingError } from 'bullmq';
import type { GradingCounter } from './grading-counter.js';
import type { WorkerMetrics } from './metrics.js';
import type { RunStates } from './run-state.js';

/** What grades a chunk's entries: the judge, or a benchmark's stand-in. */
export type ChunkGrader = Pick<Judge, 'modelId' | 'gradeEntries' | 'drain' | 'close'> & {
  engine: Pick<ModelEngine, 'provider' | 'stats'>;
};

/**
 * Grades one chunk job: results part at its deterministic key, then its part manifest (counters,
 * gradings, attempt), then the results-queue message, then (on return) the ack. A retried or
 * re-delivered chunk whose results part exists is not graded again, so at-least-once delivery
 * gives exactly-once results; each grading is counted before the entries reach the engine, so a
 * regrade (a worker that died mid-chunk) is visible in the manifest.
 */
export class ChunkProcessor {
  constructor(
    private readonly judge: ChunkGrader,
    private readonly store: ObjectStore,
    private readonly results: Queue,
    private readonly gradings: GradingCounter,
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
    private readonly runs: Pick<RunStates, 'isCancelled'>,
  ) {}

  async process(job: Job, token?: string): Promise<{ count: number; gradings: number }> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new BullUnrecoverable(`malformed chunk job: ${parsed.error.issues[0]?.message}`);
    const { runId, chunk, uri } = parsed.data;
    const log = this.logger.child({ runId, jobId: job.id, chunk });
    if (job.attemptsStarted <= 1) this.metrics.jobWait.observe((Date.now() - job.timestamp) / 1000);

    const resultsKey = runKeys.results(runId, chunk);
    // Only a retried or taken-over chunk can find its part already written: a first attempt
    // skips the extra store requests.
    const retried = job.attemptsStarted > 1 || job.stalledCounter > 0;
    let manifest = retried ? await this.readManifest(runKeys.part(runId, chunk)) : undefined;
    // A part written for a chunk that had failed for good holds error records, not results: a
    // resubmitted run grades it again.
    const failedBefore = manifest?.failure !== undefined;
    if (failedBefore) manifest = undefined;
    if (manifest) {
      log.info('part and manifest already written by an earlier attempt; publishing only');
    } else {
      const existing = retried && !failedBefore ? await this.readExisting(resultsKey) : undefined;
      let records: ResultRecord[];
      let gradings: number;
      // The model time of this grading (none when an earlier attempt's results are reused).
      const cost = { engineMs: 0 };
      if (existing) {
        records = existing;
        gradings = await this.gradings.count(runId, chunk);
        log.info('results already written by an earlier attempt; writing its manifest');
      } else {
        // A chunk of a cancelled run that reached a worker anyway is dropped, not graded.
        if (await this.runs.isCancelled(runId)) {
          log.info('chunk of a cancelled run dropped');
          this.metrics.chunksDone.inc({ outcome: 'cancelled' });
          return { count: 0, gradings: 0 };
        }
        const entries = await this.readChunk(uri);
        gradings = await this.gradings.next(runId, chunk);
        try {
          records = await this.judge.gradeEntries(entries, cost);
        } catch (error) {
          if (!(error instanceof DrainingError)) throw error;
          // Draining: this chunk has not (all) reached the engine; hand it back to another worker.
          await job.moveToWait(token);
          log.info('chunk handed back while draining');
          throw new WaitingError();
        }
        // Graded results are not thrown away for a blip of the store: the writes after grading
        // retry in place (a longer outage fails the attempt, which is tried again later).
        // Bytes, encoded once (a string would be encoded twice by the S3 client: to sign, to send).
        const body = Buffer.from(toJsonl(records));
        await withRetry(() => this.store.put(resultsKey, body));
        this.metrics.itemsGraded.inc(records.length);
        this.metrics.chunksGraded.inc({ grading: gradings > 2 ? '3+' : String(gradings) });
        if (gradings > 1) this.metrics.itemsRegraded.inc(records.length);
      }
      const summary = new SummaryBuilder(parsed.data.segments ?? []);
      for (const record of records) summary.add(record);
      summary.addEngineMs(cost.engineMs);
      manifest = {
        runId,
        chunk,
        count: records.length,
        counters: summary.counters,
        gradings,
        attempt: job.attemptsStarted,
        stalled: job.stalledCounter,
        writtenAt: new Date().toISOString(),
      };
      const manifestBody = `${JSON.stringify(manifest)}\n`;
      await withRetry(() => this.store.put(runKeys.part(runId, chunk), manifestBody));
    }
    const message: ResultMessage = {
      type: 'chunk',
      runId,
      chunk,
      uri: this.store.uri(resultsKey),
      count: manifest.count,
      counters: manifest.counters,
    };
    await withRetry(() => this.results.add('chunk', message, { jobId: resultJobId(message) }));
    this.metrics.chunksDone.inc({ outcome: 'ok' });
    log.debug({ count: manifest.count, gradings: manifest.gradings }, 'chunk graded');
    return { count: manifest.count, gradings: manifest.gradings };
  }

  /** Publishes a chunk that failed for good, so that its run can end instead of waiting forever. */
  async publishFailure(job: Job, error: Error): Promise<void> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success) return;
    const { runId, chunk, count } = parsed.data;
    const message: ResultMessage = {
      type: 'chunk-failed',
      runId,
      chunk,
      count,
      reason: error.message,
      attempts: job.attemptsMade,
      stalled: job.stalledCounter,
    };
    await this.results.add('chunk-failed', message, { jobId: resultJobId(message) });
    this.metrics.chunksDone.inc({ outcome: 'failed' });
  }

  /** The part manifest of an earlier attempt, if it got as far as writing it. */
  private async readManifest(key: string): Promise<PartManifest | undefined> {
    try {
      return partManifestSchema.parse(JSON.parse((await this.store.get(key)).toString('utf8')));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** The results of an earlier attempt, if it got as far as writing them. */
  private async readExisting(key: string): Promise<ResultRecord[] | undefined> {
    try {
      return parseJsonl(await this.store.get(key)).map((line) => resultRecordSchema.parse(line));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
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
