import { resultRecordSchema, runIdSchema, runSummaryBodySchema } from '@phudge/contracts';
import { z } from 'zod';

/**
 * The API's bodies are @phudge/contracts' (shared with the SDK); what is here is the producer's
 * own: path parameters and the OpenAPI descriptions of its answers.
 */
export {
  errorBodySchema,
  gradedSchema,
  gradeSchema,
  MAX_GRADE_ITEMS,
  MAX_INPUT_URIS,
  queueCountsSchema,
  type RunStatus as RunStatusBody,
  runStatusSchema,
  type SubmitRunBody,
  submitRunSchema,
  submittedSchema,
} from '@phudge/contracts';

/** The path parameter of the /v1/runs/:id routes; an id it refuses cannot name a run (404). */
export const runParamsSchema = z.object({ id: runIdSchema });

export const summarySchema = runSummaryBodySchema.meta({
  description: "The run's summary.json: counts, errors, truncated, histogram, means per rubric and segment.",
});

export const resultRecordsSchema = resultRecordSchema.meta({
  description: 'One line of the JSONL body: a result or an error record, in input order.',
});

export const serviceStateSchema = z.object({ state: z.string() });
