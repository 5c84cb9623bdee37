import { z } from 'zod';
import { itemOptionsSchema, outputOptionsSchema } from './options.js';
import { notifySchema } from './webhook.js';

/** Run ids are caller-chosen or generated; they name Redis keys, job ids and object keys. */
export const runIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');

/**
 * How a run competes for the workers: `interactive` (POST /v1/grade, a person waiting) before any
 * `batch` run; batch runs take turns.
 */
export const runPrioritySchema = z.enum(['interactive', 'batch']);
export type RunPriority = z.infer<typeof runPrioritySchema>;

/**
 * Grading options of a whole run, stored with it and applied by the producer at ingestion:
 * rubric or rubrics, mode, field mapping (map, preset), and the output format.
 */
export const runOptionsSchema = z.object({
  ...itemOptionsSchema.shape,
  /** `{format: 'parquet'}` also writes the results as Parquet when the run completes. */
  output: outputOptionsSchema.optional(),
  /** Metadata keys whose values the summary breaks scores down by. */
  segments: z.array(z.string().min(1)).max(16).optional(),
  /** A recurring run's name (`nightly-support-bot`): its report compares with the previous run of that name. */
  name: z.string().min(1).max(100).optional(),
  /** `interactive` chunks are served before `batch` ones (the default); a grade is always interactive. */
  priority: runPrioritySchema.optional(),
  /**
   * Also post the run's end (run.completed, run.failed, run.cancelled) to this URL, besides
   * PHUDGE_WEBHOOK_URLS, signed with the producer's PHUDGE_WEBHOOK_SECRET.
   */
  notify: notifySchema.optional(),
});
export type RunOptions = z.infer<typeof runOptionsSchema>;
