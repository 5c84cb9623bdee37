import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, UnrecoverableError } from './errors.js';
import { NotFoundError } from './store/object-store.js';

/**
 * Node system error codes of a connection that failed, broke or timed out: the peer (S3, Redis)
 * may well answer the next try.
 */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** AWS SDK error names of throttling and server-side trouble (S3's own codes, and the SDK's timeout). */
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ThrottlingException',
  'TimeoutError',
  // ioredis: a command failed because the connection was down for longer than its retries.
  'MaxRetriesPerRequestError',
  // ioredis: no node of a Redis Cluster answered (all of them down or restarting).
  'ClusterAllFailedError',
]);

/** Redis reply error codes (the reply's first word) of a server that is loading, failing over or busy. */
const TRANSIENT_REDIS_REPLIES = new Set([
  'LOADING',
  'READONLY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'BUSY',
]);

interface ErrorFields {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

/**
 * Whether an error is a fault that may pass (a store answering 5xx or SlowDown, a timeout, a
 * refused or reset connection, Redis reconnecting), so the operation should be tried again.
 * Decided by named fields (AWS SDK `$retryable`, HTTP status, error `name`, Node `code`, ioredis
 * error classes), never by message text; bad input, a missing object and unrecoverable errors are
 * never transient.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (
    error instanceof UnrecoverableError ||
    error instanceof InvalidInputError ||
    error instanceof NotFoundError
  )
    return false;
  const fields = error as ErrorFields;
  if (fields.$retryable) return true;
  const status = fields.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (fields.code !== undefined && TRANSIENT_CODES.has(fields.code)) return true;
  if (fields.name !== undefined && TRANSIENT_NAMES.has(fields.name)) return true;
  // redis-errors' AbortError: a command dropped because its connection closed. (An aborted
  // AbortSignal's error is a DOMException of the same name, and is not a fault.)
  if (fields.name === 'AbortError' && !(error instanceof DOMException)) return true;
  // A Redis error reply carries its code as the reply's first word (the protocol has no other field).
  if (fields.name === 'ReplyError' && TRANSIENT_REDIS_REPLIES.has(error.message.split(' ')[0] ?? ''))
    return true;
  if (Array.isArray(fields.errors) && fields.errors.some(isTransient)) return true; // AggregateError of connect tries
  return fields.cause !== undefined && isTransient(fields.cause);
}

/** How a transient fault is retried. */
export interface RetryOptions {
  /** Tries in all, the first included. @defaultValue 6 */
  attempts?: number;
  /** Delay ceiling before the second try; it doubles with each try. @defaultValue 200 */
  baseDelayMs?: number;
  /** Longest delay between two tries. @defaultValue 5000 */
  maxDelayMs?: number;
  /** Stops waiting and rethrows when aborted. */
  signal?: AbortSignal;
  /** Told before each wait (to log it). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * The delay before try `attempt + 1`: exponential, with jitter (half fixed, half random) so that
 * many clients hit by one outage do not come back in step.
 */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Runs `operation`, trying again after a backoff while it fails transiently (see isTransient);
 * any other error, or the last try's, is thrown as it is. The defaults ride out about 6 s of trouble.
 */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 6, baseDelayMs = 200, maxDelayMs = 5000, signal, onRetry } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      signal?.throwIfAborted();
      const delay = backoffDelay(attempt, baseDelayMs, maxDelayMs);
      onRetry?.(error, attempt, delay);
      await sleep(delay, undefined, signal ? { signal } : {});
    }
  }
}
