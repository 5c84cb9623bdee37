import { z } from 'zod';

/** Mean and count of the scores of one group (a rubric, or one value of a metadata key). */
export const groupStatsSchema = z.object({
  count: z.number(),
  mean: z.number(),
  /** Sample standard deviation; 0 for a single score. */
  std: z.number(),
});
export type GroupStats = z.infer<typeof groupStatsSchema>;

/** What a finished run (or a local `phudge grade`) reports about its results. */
export const runSummarySchema = z.object({
  items: z.number(),
  graded: z.number(),
  errors: z.number(),
  truncated: z.number(),
  sanitized: z.number(),
  /** Mean of every score (both scores of a pair), or null when nothing was graded. */
  meanScore: z.number().nullable(),
  /** Count, mean and standard deviation of every score. */
  scores: groupStatsSchema,
  /** Scores rounded to the nearest integer, counted: keys "1".."5". */
  histogram: z.record(z.string(), z.number()),
  /** Relative mode: how often A, B, or neither won. */
  winners: z.object({ A: z.number(), B: z.number(), tie: z.number() }).optional(),
  /** Error codes, counted. */
  errorCodes: z.record(z.string(), z.number()),
  /** Per rubric label (library name or `custom`). */
  rubrics: z.record(z.string(), groupStatsSchema),
  /** Per metadata key the run named, per value. */
  segments: z.record(z.string(), z.record(z.string(), groupStatsSchema)),
  /**
   * Model time the items took, in seconds (each batch's time shared out by tokens over its
   * prompts): GPU-seconds on a GPU fleet. Absent when the grader did not measure it.
   */
  engineSeconds: z.number().optional(),
  /** engineSeconds at the fleet's `PHUDGE_GPU_HOUR_PRICE`, when one is set. */
  cost: z.number().optional(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;
