import { createHash, createHmac } from 'node:crypto';
import { type WebhookEventType, webhookEventSchema, webhookFormatSchema } from '@phudge/contracts';
import { z } from 'zod';

/** One delivery: an event to one URL. */
export const webhookJobSchema = z.object({
  url: z.string(),
  format: webhookFormatSchema,
  event: webhookEventSchema,
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

export function webhookEventId(runId: string, type: WebhookEventType): string {
  return `${runId}.${type}`;
}

/**
 * Deterministic job id of one delivery: enqueueing it again (a collector's redelivered message)
 * is the same job. The URL is hashed: BullMQ forbids ':' in ids, and it may carry a token.
 */
export function webhookJobId(eventId: string, url: string): string {
  return `${eventId}.${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

/** `X-Phudge-Signature`'s value: `sha256=` and the hex HMAC-SHA256 of the raw body. */
export function webhookSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
