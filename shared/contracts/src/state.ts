import { z } from 'zod';

/**
 * Where a run stands: queued, running, then completed, failed (a chunk failed for good) or
 * cancelled (stopped by POST /v1/runs/:id/cancel; its summary holds what was graded).
 */
export const runStateSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
export type RunState = z.infer<typeof runStateSchema>;
/** The states a run ends in. */
export const finalRunStateSchema = runStateSchema.extract(['completed', 'failed', 'cancelled']);
export type FinalRunState = z.infer<typeof finalRunStateSchema>;
