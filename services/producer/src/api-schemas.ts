import { resultRecordSchema, runIdSchema, runOptionsSchema } from '@phudge/core';
import { z } from 'zod';

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

export const submitRunSchema = runOptionsSchema.extend({
  input: z.union([
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
  ]),
  runId: runIdSchema.optional(),
  chunkSize: z.number().int().min(1).max(10_000).optional(),
});
export type SubmitRunBody = z.infer<typeof submitRunSchema>;

/** A grade is always interactive: its body takes no priority. */
export const gradeSchema = runOptionsSchema.omit({ priority: true }).extend({
  items: z.array(itemSchema).min(1).max(MAX_GRADE_ITEMS),
  /** As for a run: a retried grade with the same runId and items is the same run. */
  runId: runIdSchema.optional(),
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
});

/** The path parameter of the /v1/runs/:id routes; an id it refuses cannot name a run (404). */
export const runParamsSchema = z.object({ id: runIdSchema });

export const errorBodySchema = z.object({
  error: z
    .string()
    .meta({ description: 'a stable code: unauthorized, forbidden, bad_request, not_found, ...' }),
  message: z.string(),
  runId: z.string().optional(),
});

/** `cancelled`: stopped by POST /v1/runs/:id/cancel; its summary holds what was graded. */
export const runStateSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);

export const submittedSchema = z.object({ runId: z.string(), created: z.boolean() });

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
  reportUri: z.string().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  /** A finished run that asked for Parquet (`output: {format: 'parquet'}`): its files, in order. */
  parquetUris: z.array(z.string()).optional(),
  failure: z.string().optional(),
});
export type RunStatusBody = z.infer<typeof runStatusSchema>;

export const summarySchema = z.looseObject({ runId: z.string() }).meta({
  description: "The run's summary.json: counts, errors, truncated, histogram, means per rubric and segment.",
});

export const resultRecordsSchema = resultRecordSchema.meta({
  description: 'One line of the JSONL body: a result or an error record, in input order.',
});

export const gradedSchema = z.object({
  runId: z.string(),
  state: z.enum(['completed', 'failed', 'cancelled']),
  results: z.array(resultRecordSchema),
});

export const queueCountsSchema = z.record(z.string(), z.number().int()).meta({
  description:
    'Chunk jobs by BullMQ state, and pending (waiting + prioritized + delayed + active): what autoscalers follow.',
});

export const serviceStateSchema = z.object({ state: z.string() });
