import { z } from 'zod';
import { resultRecordSchema } from './result.js';
import { runIdSchema, runOptionsSchema } from './run.js';
import { finalRunStateSchema, runStateSchema } from './state.js';
import { runSummarySchema } from './summary.js';

/**
 * The bodies of the producer's /v1 API, both ways: the producer validates requests with them and
 * documents its answers with them, the SDK types its calls with them and validates the answers.
 */

/** Most URIs one submission lists: a night is a few prefixes or globs, not a list of every file. */
export const MAX_INPUT_URIS = 1000;

/** Most items POST /v1/grade takes: it answers with results, so it is for small synchronous calls. */
export const MAX_GRADE_ITEMS = 256;

/**
 * One grading request, as an input line has it. Inline items are checked one by one at
 * ingestion (a bad one becomes an error record and the run goes on), so the body schema takes
 * any JSON value per item; this is what a good one looks like.
 */
const itemSchema = z.unknown().meta({
  description:
    'A grading request: {id?, instruction|question|prompt|messages, response|answer|output or responses: [a, b], reference?, rubric?, metadata?} (README, "Input").',
});

/** What a run reads: files or objects by URI, or items given inline. */
export const runInputSchema = z.union([
  z.strictObject({
    uri: z.string().min(1).meta({
      description:
        'one object or file (s3://bucket/key, file:///path), a prefix ending in / or a glob (s3://logs/2026-12-01/*.jsonl.gz): .jsonl, .jsonl.gz, .gz or .parquet',
    }),
  }),
  z.strictObject({
    uris: z
      .array(z.string().min(1))
      .min(1)
      .max(MAX_INPUT_URIS)
      .meta({ description: 'several of what uri takes, read in this order' }),
  }),
  z.strictObject({ items: z.array(itemSchema).min(1) }),
]);
export type RunInput = z.infer<typeof runInputSchema>;

/** POST /v1/runs. */
export const submitRunSchema = runOptionsSchema.extend({
  input: runInputSchema,
  /**
   * The run id: submitting the same id and input again is the same run (an idempotent retry).
   * The SDK picks a fresh UUID when the caller gives none.
   */
  runId: runIdSchema.optional(),
  /** Items per chunk job; the producer's (64) when absent. */
  chunkSize: z.number().int().min(1).max(10_000).optional(),
});
export type SubmitRunBody = z.infer<typeof submitRunSchema>;

/** POST /v1/grade. A grade is always interactive: its body takes no priority. */
export const gradeSchema = runOptionsSchema.omit({ priority: true }).extend({
  items: z.array(itemSchema).min(1).max(MAX_GRADE_ITEMS),
  /** As for a run: a retried grade with the same runId and items is the same run. */
  runId: runIdSchema.optional(),
  /** How long the producer waits for the results before it answers 504; its default is 60000. */
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
});
export type GradeBody = z.infer<typeof gradeSchema>;

/** The stable codes of the API's error answers (the body's `error`). */
export const API_ERROR_CODES = [
  'unauthorized',
  'forbidden',
  'bad_request',
  'bad_input',
  'input_forbidden',
  'not_found',
  'conflict',
  'not_finished',
  'timeout',
  'unavailable',
  'internal',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** Every error answer. `error` is a string, not the enum, so that a client reads codes added later. */
export const errorBodySchema = z.object({
  error: z.string().meta({ description: `a stable code: ${API_ERROR_CODES.join(', ')}` }),
  message: z.string(),
  /** The run a grading timeout (504 `timeout`) is about: poll it. */
  runId: z.string().optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** The answer of POST /v1/runs. */
export const submittedSchema = z.object({ runId: z.string(), created: z.boolean() });
export type Submitted = z.infer<typeof submittedSchema>;

/** A run's status, as GET /v1/runs/:id reports it. */
export const runStatusSchema = z.object({
  runId: z.string(),
  state: runStateSchema,
  total: z.number().int().nullable(),
  done: z.number().int(),
  errors: z.number().int(),
  chunks: z.number().int().nullable(),
  chunksDone: z.number().int(),
  resultsPrefix: z.string(),
  summaryUri: z.string().nullable(),
  /** The run's HTML report, once it has ended. */
  reportUri: z.string().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  /** While running: seconds left at the run's pace so far; null before its first results, while ingesting, once ended. */
  etaSeconds: z.number().nullable().optional(),
  /** A finished run that asked for Parquet (`output: {format: 'parquet'}`): its files, in order. */
  parquetUris: z.array(z.string()).optional(),
  failure: z.string().optional(),
});
export type RunStatus = z.infer<typeof runStatusSchema>;

/** GET /v1/runs/:id/summary: the run's summary.json, with the run's own figures (chunks, timing) kept as they are. */
export const runSummaryBodySchema = runSummarySchema.extend({ runId: z.string() }).loose();
export type RunSummaryBody = z.infer<typeof runSummaryBodySchema>;

/** The answer of POST /v1/grade. */
export const gradedSchema = z.object({
  runId: z.string(),
  state: finalRunStateSchema,
  results: z.array(resultRecordSchema),
});
export type Graded = z.infer<typeof gradedSchema>;

/** GET /v1/queue. */
export const queueCountsSchema = z.record(z.string(), z.number().int()).meta({
  description:
    'Chunk jobs by BullMQ state, and pending (waiting + prioritized + delayed + active): what autoscalers follow.',
});
export type QueueCounts = z.infer<typeof queueCountsSchema>;
