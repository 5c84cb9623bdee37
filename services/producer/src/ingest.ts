import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ChunkEntry,
  type ChunkJob,
  chunkJobId,
  declaredId,
  InvalidInputError,
  type Logger,
  type ObjectStore,
  parseGradingRequest,
  parseJsonLine,
  type ResultMessage,
  type RunOptions,
  resultJobId,
  runKeys,
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
const CHUNKS_PER_BULK = 16;

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
    const defaults = {
      ...(runOptions.rubric ? { rubric: runOptions.rubric } : {}),
      ...(runOptions.mode ? { mode: runOptions.mode } : {}),
    };
    let entries: string[] = [];
    let chunk = 0;
    let items = 0;
    let pending: { name: string; data: ChunkJob; opts: { jobId: string } }[] = [];

    const flushJobs = async () => {
      if (pending.length === 0) return;
      await this.waitForRoom();
      await this.chunks.addBulk(pending);
      pending = [];
    };
    const flushChunk = async () => {
      if (entries.length === 0) return;
      if (!done.has(chunk)) {
        const key = runKeys.chunk(runId, chunk);
        await this.store.put(key, `${entries.join('\n')}\n`);
        const data: ChunkJob = { runId, chunk, uri: this.store.uri(key), count: entries.length };
        pending.push({ name: 'chunk', data, opts: { jobId: chunkJobId(runId, chunk) } });
        if (pending.length >= CHUNKS_PER_BULK) await flushJobs();
      }
      chunk += 1;
      entries = [];
    };

    for await (const { line, value } of readInput(input)) {
      items += 1;
      entries.push(JSON.stringify(toEntry(line, value, defaults)));
      if (entries.length >= chunkSize) await flushChunk();
      signal?.throwIfAborted();
    }
    await flushChunk();
    await flushJobs();
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
function toEntry(line: number, value: unknown, defaults: RunOptions): ChunkEntry {
  try {
    if (value instanceof InvalidInputError) throw value;
    const request = parseGradingRequest(value, line, defaults as Parameters<typeof parseGradingRequest>[2]);
    return { line, request: request as unknown as Record<string, unknown> };
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const id = declaredId(value);
    return { line, ...(id !== undefined ? { id } : {}), error: { code: error.code, message: error.message } };
  }
}

async function* readInput(input: RunInput): AsyncGenerator<{ line: number; value: unknown }> {
  if ('items' in input) {
    let line = 0;
    for (const value of input.items) yield { line: ++line, value };
    return;
  }
  let line = 0;
  for await (const text of createInterface({ input: input.lines, crlfDelay: Number.POSITIVE_INFINITY })) {
    line += 1;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = parseJsonLine(text);
    } catch (error) {
      value = error;
    }
    yield { line, value };
  }
}

/** Identifies a submission, so that the same runId with another input is refused rather than mixed. */
export function submissionDigest(input: { uri: string } | { items: unknown[] }, options: RunOptions): string {
  return createHash('sha256').update(JSON.stringify({ input, options })).digest('hex').slice(0, 32);
}
