import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ChunkEntry,
  type ChunkJob,
  chunkJobId,
  declaredId,
  InvalidInputError,
  jsonlBatches,
  type Logger,
  type ObjectStore,
  parseGradingRequest,
  parseJsonLine,
  type RequestDefaults,
  type ResultMessage,
  type RunOptions,
  resultJobId,
  runKeys,
  toErrorRecord,
} from '@phudge/core';
import type { Queue } from 'bullmq';
import type { RunStore } from './run-store.js';

/** Where a run's items come from: a stream of JSONL text, or items given inline. */
export type RunInput = { lines: Readable } | { items: unknown[] };

export interface IngestOptions {
  /** Items per chunk, unless a run asks for another size. */
  chunkSize: number;
  /** Ingestion waits while more chunk jobs than this are waiting. */
  maxQueueDepth: number;
}

/** How often a paused ingestion looks at the queue depth again. */
const BACKPRESSURE_POLL_MS = 200;
/** Chunks added to the queue in one round trip. */
const CHUNKS_PER_BULK = 32;
/** Bulks uploading or enqueueing while the next lines are read. */
const BULKS_IN_FLIGHT = 8;

type ChunkJobEntry = { name: string; data: ChunkJob; opts: { jobId: string } };

/**
 * Cuts a run's input into chunks: validates each line, writes each chunk to the store (claim
 * check) and enqueues jobs under deterministic ids, so that resuming an interrupted ingestion or
 * resubmitting a run never duplicates work. Chunks already graded are skipped.
 */
export class Ingestor {
  constructor(
    private readonly store: ObjectStore,
    private readonly chunks: Queue,
    private readonly results: Queue,
    private readonly runs: RunStore,
    private readonly options: IngestOptions,
    private readonly logger: Logger,
  ) {}

  async ingest(
    runId: string,
    input: RunInput,
    runOptions: RunOptions,
    chunkSize = this.options.chunkSize,
    signal?: AbortSignal,
  ): Promise<{ chunks: number; items: number }> {
    const done = await this.runs.doneChunks(runId);
    const defaults: RequestDefaults = {
      ...(runOptions.rubric ? { rubric: runOptions.rubric } : {}),
      ...(runOptions.mode ? { mode: runOptions.mode } : {}),
    };
    let entries: string[] = [];
    let chunk = 0;
    let items = 0;
    // Chunks upload concurrently and are enqueued a bulk at a time; a few bulks stay in flight
    // while the next lines are read, so the store's and Redis's latency is hidden.
    let bulk: { job: ChunkJobEntry; stored: Promise<void> }[] = [];
    const inFlight: Promise<void>[] = [];

    const flushBulk = async () => {
      const ready = bulk;
      bulk = [];
      if (ready.length === 0) return;
      if (inFlight.length >= BULKS_IN_FLIGHT) await inFlight.shift();
      const enqueued = (async () => {
        await Promise.all(ready.map((entry) => entry.stored));
        await this.waitForRoom();
        await this.chunks.addBulk(ready.map((entry) => entry.job));
      })();
      enqueued.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
      inFlight.push(enqueued);
    };
    const flushChunk = async () => {
      if (entries.length === 0) return;
      if (!done.has(chunk)) {
        const key = runKeys.chunk(runId, chunk);
        const stored = this.store.put(key, `${entries.join('\n')}\n`);
        stored.catch(() => {}); // awaited with its bulk
        const data: ChunkJob = {
          runId,
          chunk,
          uri: this.store.uri(key),
          count: entries.length,
          ...(runOptions.segments?.length ? { segments: runOptions.segments } : {}),
        };
        bulk.push({ job: { name: 'chunk', data, opts: { jobId: chunkJobId(runId, chunk) } }, stored });
        if (bulk.length >= CHUNKS_PER_BULK) await flushBulk();
      }
      chunk += 1;
      entries = [];
    };

    for await (const batch of readInput(input)) {
      for (const { line, value } of batch) {
        items += 1;
        entries.push(JSON.stringify(toEntry(line, value, defaults)));
        if (entries.length >= chunkSize) await flushChunk();
      }
      signal?.throwIfAborted();
    }
    await flushChunk();
    await flushBulk();
    await Promise.all(inFlight);
    await this.runs.setIngested(runId, chunk, items);
    const message: ResultMessage = { type: 'ingested', runId };
    await this.results.add('ingested', message, { jobId: resultJobId(message) });
    this.logger.info({ runId, chunks: chunk, items, skipped: done.size }, 'run ingested');
    return { chunks: chunk, items };
  }

  /** Backpressure: Redis holds a bounded number of waiting chunks, never a whole night's input. */
  private async waitForRoom(): Promise<void> {
    for (;;) {
      const counts = await this.chunks.getJobCounts('waiting', 'prioritized');
      if ((counts.waiting ?? 0) + (counts.prioritized ?? 0) < this.options.maxQueueDepth) return;
      await sleep(BACKPRESSURE_POLL_MS);
    }
  }
}

/** A validated request, or the error record the line becomes: a bad line never stops the run. */
function toEntry(line: number, value: unknown, defaults: RequestDefaults): ChunkEntry {
  try {
    if (value instanceof InvalidInputError) throw value;
    const request = parseGradingRequest(value, line, defaults);
    return { line, request: request as unknown as Record<string, unknown> };
  } catch (error) {
    return toErrorRecord(line, error, declaredId(value));
  }
}

/** The input's values in batches, each line parsed (or the error it is), numbered from 1. */
async function* readInput(input: RunInput): AsyncGenerator<{ line: number; value: unknown }[]> {
  if ('items' in input) {
    yield input.items.map((value, i) => ({ line: i + 1, value }));
    return;
  }
  for await (const batch of jsonlBatches(input.lines)) {
    yield batch.map(({ line, text }) => {
      try {
        return { line, value: parseJsonLine(text) };
      } catch (error) {
        return { line, value: error };
      }
    });
  }
}

/** Identifies a submission, so that the same runId with another input is refused rather than mixed. */
export function submissionDigest(input: { uri: string } | { items: unknown[] }, options: RunOptions): string {
  return createHash('sha256').update(JSON.stringify({ input, options })).digest('hex').slice(0, 32);
}
