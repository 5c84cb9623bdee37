import { ConnectionError, GradeTimeoutError, type PhudgeError } from './errors.js';

/** First wait before a retry; each further retry waits twice as long, up to {@link MAX_BACKOFF_MS}. */
const INITIAL_BACKOFF_MS = 500;
/** Longest backoff: a producer's rolling update or restart takes seconds, not minutes. */
const MAX_BACKOFF_MS = 8000;
/**
 * Longest `Retry-After` honoured. A server asking for more is not coming back within a call's
 * patience: the SDK then uses its own backoff, as OpenAI's and Anthropic's SDKs do.
 */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Whether a failed attempt is worth another: no answer at all, or 408, 429 and 5xx. Every call of
 * the SDK is safe to repeat (submits carry a runId), so the method does not matter.
 */
export function isRetryable(error: PhudgeError): boolean {
  if (error instanceof ConnectionError) return true;
  if (error instanceof GradeTimeoutError) return false; // the run goes on; waiting again is the caller's choice
  const status = error.status;
  return status === 408 || status === 429 || (status !== undefined && status >= 500);
}

/**
 * How long to wait before retry number `retry` (0 for the first): the server's `Retry-After`
 * (seconds or an HTTP date) or `retry-after-ms` when it sent one, else exponential backoff with
 * jitter, so that clients turned away together do not all come back together.
 */
export function retryDelayMs(retry: number, headers?: Headers, random: () => number = Math.random): number {
  const asked = headers ? retryAfterMs(headers) : undefined;
  if (asked !== undefined && asked >= 0 && asked <= MAX_RETRY_AFTER_MS) return asked;
  const backoff = Math.min(INITIAL_BACKOFF_MS * 2 ** retry, MAX_BACKOFF_MS);
  // Up to a quarter less than the backoff, never more: the cap stays a cap.
  return backoff * (1 - 0.25 * random());
}

/** The wait a response asks for, in milliseconds, or undefined when it asks none (or cannot be read). */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Number(ms);
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
