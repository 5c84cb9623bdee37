import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ChunkJob,
  chunkJob,
  type InputRecord,
  type InputSet,
  InvalidInputError,
  ItemBuilder,
  jsonlBatches,
  type Logger,
  type ObjectStore,
  parseJsonLine,
  type ResultMessage,
  type RunOptions,
  readRecords,
  resultJobId,
  runKeys,
  withRetry,
} from '@phudge/core';
import type { Queue } from 'bullmq';
import { runManifestOf, writeRunManifest } from './run-manifest.js';
import type { RunRecord, RunStore } from './run-store.js';

/** A submission's input as its caller gave it: what identifies the run, before any expansion. */
export type RunDescription = { uri: string } | { uris: string[] } | { items: unknown[] };

/**
 * Where a run's items come from: input files (objects or local files, any format), the JSONL
 * the producer stored for items given inline, or those items themselves.
 */
export type RunInput = { files: InputSet } | { lines: Readable } | { items: unknown[] };

/** Lets go of an input that will not be read (or has been): its streams and S3 clients. */
export async function closeInput(input: RunInput): Promise<void> {
  if ('lines' in input) input.lines.destroy();
  if ('files' in input) await input.files.close();
}

/** The run was cancelled while it was being ingested: the ingestion stops, nothing else is wrong. */
export class RunCancelledError extends Error {
  override readonly name = 'RunCancelledError';
}

export interface IngestOptions {
  /** Ingestion waits while more chunk jobs than this are waiting. */
  maxQueueDepth: number;
}

/** How often a paused ingestion looks at the queue depth again. */
const BACKPRESSURE_POLL_MS = 200;
/** Chunks added to the queue in one round trip. */
const CHUNKS_PER_BULK = 32;
/** Bulks uploading or enqueueing while the next lines are read. */
const BULKS_IN_FLIGHT = 8;

type ChunkJobEntry = { name: string; data: ChunkJob; opts: { jobId: string; priority: number } };

/**
 * Cuts a run's input into chunks: validates each line, writes each chunk to the store (claim
 * check) and enqueues jobs under deterministic ids, so that resuming an interrupted ingestion
 * never duplicates work: chunks already enqueued, graded or counted are skipped. Each store and
 * Redis call rides out a short outage (withRetry); a longer one fails the ingestion, which the
 * producer resumes later.
 */
export class Ingestor {
  constructor(
    private readonly store: ObjectStore,
    private readonly chunks: Queue,
    private readonly results: Queue,
    private readonly runs: RunStore,
    private readonly options: IngestOptions,
    private readonly logger: Logger,
    /** Told how many chunks each bulk stored and enqueued. */
    private readonly onEnqueued: (chunks: number) => void = () => {},
  ) {}

  async ingest(
    run: RunRecord,
    input: RunInput,
    signal?: AbortSignal,
  ): Promise<{ chunks: number; items: number }> {
    const { runId, options: runOptions, chunkSize } = run;
    const retry = <T>(operation: () => Promise<T>) => this.retry(runId, operation, signal);
    const skipped = await retry(() => this.skippedChunks(run));
    // Validated at submission: a mapping that does not parse never gets this far.
    const builder = new ItemBuilder(runOptions);
    let entries: string[] = [];
    let chunk = 0;
    let items = 0;
    // Chunks upload concurrently and are enqueued a bulk at a time; a few bulks stay in flight
    // while the next lines are read, so the store's and Redis's latency is hidden. Bulks are
    // awaited in order, so that after each one every chunk before its end is enqueued (or was
    // skipped), and a resumed ingestion can skip them all.
    let bulk: { job: ChunkJobEntry; stored: Promise<void> }[] = [];
    const inFlight: { enqueued: Promise<void>; end: number }[] = [];
    const settleOldest = async () => {
      const oldest = inFlight.shift();
      if (!oldest) return;
      await oldest.enqueued;
      await retry(() => this.runs.setEnqueued(runId, oldest.end));
    };

    const flushBulk = async () => {
      const ready = bulk;
      bulk = [];
      if (ready.length === 0) return;
      if (inFlight.length >= BULKS_IN_FLIGHT) await settleOldest();
      const enqueued = (async () => {
        await Promise.all(ready.map((entry) => entry.stored));
        await this.waitForRoom(runId, ready[0]?.job.data.chunk ?? 0, retry, signal);
        await retry(() => this.chunks.addBulk(ready.map((entry) => entry.job)));
        this.onEnqueued(ready.length);
      })();
      enqueued.catch(() => {}); // awaited in settleOldest; this only keeps it from counting as unhandled meanwhile
      inFlight.push({ enqueued, end: (ready.at(-1)?.job.data.chunk ?? 0) + 1 });
    };
    const flushChunk = async () => {
      if (entries.length === 0) return;
      if (!skipped(chunk)) {
        const key = runKeys.chunk(runId, chunk);
        // Bytes, encoded once: the store's client would otherwise encode a string twice, to sign
        // its payload and to send it.
        const body = Buffer.from(`${entries.join('\n')}\n`);
        const stored = retry(() => this.store.put(key, body));
        stored.catch(() => {}); // awaited with its bulk
        const job = chunkJob(runId, runOptions, chunk, { uri: this.store.uri(key), count: entries.length });
        bulk.push({ job, stored });
        if (bulk.length >= CHUNKS_PER_BULK) await flushBulk();
      }
      chunk += 1;
      entries = [];
    };

    try {
      for await (const batch of readInput(input)) {
        for (const record of batch) {
          // One entry per rubric of the run: chunks (and so model batches) mix them.
          for (const entry of builder.entries(record)) {
            items += 1;
            entries.push(JSON.stringify(entry));
            if (entries.length >= chunkSize) await flushChunk();
          }
        }
        signal?.throwIfAborted();
      }
      await flushChunk();
      await flushBulk();
      while (inFlight.length > 0) await settleOldest();
    } finally {
      await closeInput(input);
    }
    // A run cancelled during its last bulk is not marked ingested: it stays cancelled.
    if ((await retry(() => this.runs.progress(runId)))?.state === 'cancelled')
      throw new RunCancelledError(`run ${runId} was cancelled`);
    await retry(() => this.runs.setIngested(runId, chunk, items));
    const { input: source } = run;
    if (source) {
      const manifest = runManifestOf({ ...run, input: source }, { chunks: chunk, items });
      await retry(() => writeRunManifest(this.store, manifest));
    }
    const message: ResultMessage = { type: 'ingested', runId };
    await retry(() => this.results.add('ingested', message, { jobId: resultJobId(message) }));
    this.logger.info({ runId, chunks: chunk, items, resumedAt: run.enqueued }, 'run ingested');
    return { chunks: chunk, items };
  }

  /**
   * Which chunks a resumed ingestion need not store and enqueue again: those before the run's
   * enqueued mark, those already counted, and those whose part manifest exists (graded, maybe
   * not counted yet).
   */
  private async skippedChunks(run: RunRecord): Promise<(chunk: number) => boolean> {
    if (run.enqueued === 0 && run.chunksDone === 0) return () => false; // a first ingestion: nothing to skip
    const counted = await this.runs.doneChunks(run.runId);
    for (const key of await this.store.list(runKeys.partsPrefix(run.runId))) {
      const match = /part-(\d+)\.json$/.exec(key);
      if (match) counted.add(Number(match[1]));
    }
    return (chunk) => chunk < run.enqueued || counted.has(chunk);
  }

  private retry<T>(runId: string, operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(operation, {
      ...(signal ? { signal } : {}),
      onRetry: (error, attempt, delayMs) =>
        this.logger.warn(
          { runId, err: error, attempt, delayMs },
          'ingestion step failed transiently; retrying',
        ),
    });
  }

  /**
   * Backpressure: Redis holds a bounded number of waiting chunks, never a whole night's input.
   * A run with none of its earlier chunks left in the queue may always add a bulk, so that a
   * large run's backlog never starves a smaller (or interactive) run's ingestion: the queue holds
   * at most maxQueueDepth plus a bulk per ingesting run. Each bulk first checks that the run was not
   * cancelled meanwhile (by any replica).
   */
  private async waitForRoom(
    runId: string,
    firstChunk: number,
    retry: <T>(operation: () => Promise<T>) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<void> {
    for (;;) {
      const progress = await retry(() => this.runs.progress(runId));
      if (progress?.state === 'cancelled') throw new RunCancelledError(`run ${runId} was cancelled`);
      // Every chunk before this bulk is counted: none of the run's is waiting.
      if (firstChunk <= (progress?.chunksDone ?? 0)) return;
      const counts = await retry(() => this.chunks.getJobCounts('waiting', 'prioritized'));
      if ((counts.waiting ?? 0) + (counts.prioritized ?? 0) < this.options.maxQueueDepth) return;
      await sleep(BACKPRESSURE_POLL_MS, undefined, signal ? { signal } : {});
    }
  }
}

/** The input's records in batches, numbered from 1 per file (inline items have no source). */
async function* readInput(input: RunInput): AsyncGenerator<InputRecord[]> {
  if ('items' in input) {
    yield input.items.map((value, i) => ({ line: i + 1, value }));
    return;
  }
  if ('files' in input) {
    for (const file of input.files.files) yield* readRecords(file);
    return;
  }
  for await (const batch of jsonlBatches(input.lines)) {
    yield batch.map(({ line, text }): InputRecord => {
      try {
        return { line, value: parseJsonLine(text) };
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        return { line, error };
      }
    });
  }
}

/** Identifies a submission, so that the same runId with another input is refused rather than mixed. */
export function submissionDigest(input: RunDescription, options: RunOptions): string {
  return createHash('sha256').update(JSON.stringify({ input, options })).digest('hex').slice(0, 32);
}
