import { z } from 'zod';
import { finalRunStateSchema } from './state.js';

/** How an event is posted: `json` (the signed event itself) or `slack` (an incoming webhook's `{text}`). */
export const webhookFormatSchema = z.enum(['json', 'slack']);
export type WebhookFormat = z.infer<typeof webhookFormatSchema>;

/** Where a run's events are posted (a submission's `notify`), and in which shape. */
export const notifySchema = z.object({
  url: z
    .string()
    .url()
    .refine((url) => /^https?:\/\//.test(url), 'must be an http(s) URL'),
  /** `json` (the default): the signed event itself; `slack`: an incoming webhook's `{text}`. */
  format: webhookFormatSchema.optional(),
});
export type Notify = z.infer<typeof notifySchema>;

export const webhookEventTypeSchema = z.enum(['run.completed', 'run.failed', 'run.cancelled']);
export type WebhookEventType = z.infer<typeof webhookEventTypeSchema>;

/** The body of a `json` webhook: what a run ended as, and where its report is. */
export const webhookEventSchema = z.object({
  /** `<runId>.<type>`: the same for every delivery of this event, so a receiver can dedupe. */
  id: z.string(),
  type: webhookEventTypeSchema,
  createdAt: z.string(),
  run: z.object({
    runId: z.string(),
    name: z.string().optional(),
    state: finalRunStateSchema,
    counts: z.object({ items: z.number(), errors: z.number() }),
    meanScore: z.number().nullable(),
    /** The report's verdict against the previous run of the same name, when there is one. */
    verdict: z.string().optional(),
    /** null when the run failed before it had a report (its ingestion failed). */
    reportUri: z.string().nullable(),
    failure: z.string().optional(),
  }),
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;
