import { errorResultSchema, runIdSchema } from '@phudge/contracts';
import { z } from 'zod';
import { gradingRequestSchema } from '../schemas/input.js';

/**
 * Queue names and one envelope per queue, imported by both sides: the producer and the worker
 * (chunks), the worker and the collector (results). Payloads are claim checks: the items live in
 * the object store and a job carries only where they are.
 */
export const QUEUES = {
  /** Chunk jobs: producer -> workers. */
  chunks: 'phudge-chunks',
  /** Chunk results and run events: workers and producer -> collector. */
  results: 'phudge-results',
  /** Webhook deliveries of run events: producer -> producer (see queue/webhooks.ts). */
  webhooks: 'phudge-webhooks',
} as const;

/** One chunk of a run: its items are the JSONL object at `uri`. */
export const chunkJobSchema = z.object({
  runId: runIdSchema,
  chunk: z.number().int().nonnegative(),
  uri: z.string().min(1),
  count: z.number().int().positive(),
  /** Metadata keys the run's summary breaks scores down by (the worker counts them). */
  segments: z.array(z.string()).optional(),
});
export type ChunkJob = z.infer<typeof chunkJobSchema>;

/** Deterministic job id: adding the same chunk twice is one job (BullMQ forbids ':' in ids). */
export function chunkJobId(runId: string, chunk: number): string {
  return `${runId}.${chunk}`;
}

/** Messages on the results queue: small notes, the results themselves are in the store. */
export const resultMessageSchema = z.discriminatedUnion('type', [
  /**
   * A chunk is graded and its results object written at `runKeys.results(runId, chunk)`;
   * `counters` is its partial summary, so the collector need not read the results back.
   */
  z.object({
    type: z.literal('chunk'),
    runId: runIdSchema,
    chunk: z.number().int().nonnegative(),
    uri: z.string(),
    count: z.number().int().nonnegative(),
    counters: z.record(z.string(), z.number()),
  }),
  /** A chunk failed for good: its items become error records and the run ends as failed. */
  z.object({
    type: z.literal('chunk-failed'),
    runId: runIdSchema,
    chunk: z.number().int().nonnegative(),
    count: z.number().int().nonnegative(),
    reason: z.string(),
    /** Attempts the job made, and times it was taken over as stalled, for its part manifest. */
    attempts: z.number().int().nonnegative(),
    stalled: z.number().int().nonnegative(),
  }),
  /** The producer has enqueued every chunk of the run: its totals are now known. */
  z.object({ type: z.literal('ingested'), runId: runIdSchema }),
]);
export type ResultMessage = z.infer<typeof resultMessageSchema>;

/** Deterministic results-queue job id, so that a retried worker publishes a chunk once. */
export function resultJobId(message: ResultMessage): string {
  return message.type === 'ingested'
    ? `${message.runId}.ingested`
    : chunkResultJobId(message.runId, message.chunk, message.type);
}

/** The results-queue job id of a chunk's message of one type. */
export function chunkResultJobId(runId: string, chunk: number, type: 'chunk' | 'chunk-failed'): string {
  return `${runId}.${chunk}.${type}`;
}

/** Object keys of a run, relative to the store's root. */
export const runKeys = {
  chunk: (runId: string, chunk: number) =>
    `runs/${runId}/chunks/chunk-${String(chunk).padStart(6, '0')}.jsonl`,
  results: (runId: string, chunk: number) =>
    `runs/${runId}/results/part-${String(chunk).padStart(6, '0')}.jsonl`,
  resultsPrefix: (runId: string) => `runs/${runId}/results/`,
  /** Inline items of a submission, as JSONL, so that its ingestion can be resumed. */
  input: (runId: string) => `runs/${runId}/input.jsonl`,
  /** A results part's manifest: its counters and how it was graded (see partManifestSchema). */
  part: (runId: string, chunk: number) => `runs/${runId}/parts/part-${String(chunk).padStart(6, '0')}.json`,
  partsPrefix: (runId: string) => `runs/${runId}/parts/`,
  /** The exact input files of a submission (a prefix or a glob expanded), so that a resumed ingestion reads the same ones. */
  inputFiles: (runId: string) => `runs/${runId}/input-files.json`,
  /** Parquet results of a run that asked for them (`output: {format: 'parquet'}`), written when it completes. */
  parquet: (runId: string, file: number) =>
    `runs/${runId}/results-parquet/part-${String(file).padStart(6, '0')}.parquet`,
  parquetPrefix: (runId: string) => `runs/${runId}/results-parquet/`,
  summary: (runId: string) => `runs/${runId}/summary.json`,
  /** The run's manifest: input, options, digest, then its totals (see runManifestSchema). */
  manifest: (runId: string) => `runs/${runId}/run.json`,
  /** The folder of all runs: one sub-folder per run id. */
  runsPrefix: 'runs/',
  report: (runId: string) => `runs/${runId}/report.html`,
};

/**
 * One item of a chunk object (and of a local run): a request validated by the producer, with
 * where it came from, or the error record it became.
 */
export const chunkEntrySchema = z.union([
  z.object({
    source: z.string().optional(),
    line: z.number().int().positive(),
    request: gradingRequestSchema,
  }),
  errorResultSchema,
]);
export type ChunkEntry = z.infer<typeof chunkEntrySchema>;
