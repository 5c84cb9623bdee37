import { z } from 'zod';

/** The object key or file an item was read from (absent for items given inline). */
const source = z.string().optional();
/** The item's line (or Parquet row) in its source, from 1. */
const line = z.number().int().positive();

/** Fields every graded record carries. */
const gradedBase = {
  id: z.string(),
  source,
  /** Set by every judge of this version; results written before it lack it. */
  line: line.optional(),
  /** The prompt was over the bundle's max_length and its bodies were shortened. */
  truncated: z.boolean(),
  /** Special-token strings in user fields were neutralized before tokenizing. */
  sanitized: z.boolean().optional(),
  /** Prompt tokens fed to the model (both prompts for a pair). */
  tokens: z.number().int().nonnegative(),
  /** `name@version` of the judge bundle. */
  model: z.string(),
  /** The first 12 hex digits of the bundle's model sha256: which weights graded it. */
  modelSha256: z.string().optional(),
  /** The prompt template the judge rendered (`phudge`, `prometheus`). */
  template: z.string().optional(),
  /** The rubric's library name, or `custom` for a user-written one. */
  rubric: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
};

const probabilities = z.array(z.number()).length(5);

/** Result of grading one response (absolute mode). */
export const absoluteResultSchema = z.object({
  ...gradedBase,
  score: z.number(),
  label: z.number().int().min(1).max(5).optional(),
  probabilities: probabilities.optional(),
});
export type AbsoluteResult = z.infer<typeof absoluteResultSchema>;

/** Result of comparing two responses (relative mode): both are scored absolutely. */
export const relativeResultSchema = z.object({
  ...gradedBase,
  scores: z.tuple([z.number(), z.number()]),
  winner: z.enum(['A', 'B', 'tie']),
  labels: z.tuple([z.number().int(), z.number().int()]).optional(),
  probabilities: z.tuple([probabilities, probabilities]).optional(),
});
export type RelativeResult = z.infer<typeof relativeResultSchema>;

/** A line that could not be graded; the run goes on without it. */
export const errorResultSchema = z.object({
  id: z.string().optional(),
  source,
  line,
  /** The rubric the item was to be graded on, when the run names several. */
  rubric: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorResult = z.infer<typeof errorResultSchema>;

export const resultRecordSchema = z.union([absoluteResultSchema, relativeResultSchema, errorResultSchema]);
export type ResultRecord = AbsoluteResult | RelativeResult | ErrorResult;

export function isErrorResult(record: ResultRecord): record is ErrorResult {
  return 'error' in record;
}
