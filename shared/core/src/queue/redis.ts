import { Redis, type RedisOptions, ReplyError } from 'ioredis';
import { UnrecoverableError } from '../errors.js';
import type { Logger } from '../logging.js';

/**
 * Redis connection options by role:
 * - `client`: an API request or an ingestion must fail fast when Redis is away, not hang;
 * - `worker`: a long-lived consumer waits and reconnects forever (BullMQ workers require
 *   `maxRetriesPerRequest: null`).
 */
export type RedisRole = 'client' | 'worker';

/** The options both ioredis and BullMQ's `connection` understand. */
export interface RoleOptions {
  maxRetriesPerRequest: number | null;
  enableOfflineQueue: boolean;
  connectTimeout?: number;
  retryStrategy?: (times: number) => number;
}

export function redisOptions(role: RedisRole): RoleOptions {
  if (role === 'client') {
    // A command sent while Redis is away waits for one reconnection try, then fails with ioredis's
    // MaxRetriesPerRequestError, which callers can tell apart (isTransient) and retry.
    return { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 5000 };
  }
  return {
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    // Reconnect after 0.2 s, 0.4 s, ... up to 5 s between tries, forever.
    retryStrategy: (times) => Math.min(times * 200, 5000),
  };
}

/** A BullMQ `connection` option for the role (BullMQ opens its own sockets from it). */
export function bullConnection(url: string, role: RedisRole): RoleOptions & { url: string } {
  return { url, ...redisOptions(role) };
}

/**
 * A connection of our own (run state, health checks).
 * @throws UnrecoverableError when Redis refuses the credentials of the URL: retrying cannot help,
 *   so the service stops at start-up saying so (the URL, which holds the password, is not shown).
 */
export async function connectRedis(url: string, role: RedisRole): Promise<Redis> {
  const options: RedisOptions = { ...redisOptions(role), lazyConnect: true };
  const redis = new Redis(url, options);
  let refused: (error: Error) => void = () => {};
  const authFailure = new Promise<never>((_, reject) => {
    refused = reject;
  });
  const onError = (error: Error) => {
    if (isAuthError(error)) refused(error);
  };
  redis.on('error', onError);
  try {
    await Promise.race([redis.connect(), authFailure]);
    return redis;
  } catch (error) {
    redis.disconnect();
    if (isAuthError(error))
      throw new UnrecoverableError(
        `redis.url: Redis refused the credentials of PHUDGE_REDIS_URL: ${(error as Error).message}`,
      );
    throw error;
  } finally {
    redis.off('error', onError);
  }
}

/** Redis answers a bad password or user with these error codes (the reply's first word). */
const AUTH_ERROR_CODES = ['WRONGPASS', 'NOAUTH', 'NOPERM'];

function isAuthError(error: unknown): boolean {
  return (
    error instanceof ReplyError && AUTH_ERROR_CODES.includes((error as Error).message.split(' ')[0] ?? '')
  );
}

/**
 * Logs the Redis errors of BullMQ queues and workers. One without an `error` listener prints the
 * whole error with console.error, and ioredis's errors carry the failed command's arguments:
 * a refused AUTH would print the password. The logger's error serializer leaves them out.
 */
export function logRedisErrors(
  logger: Logger,
  emitters: Record<string, { on(event: 'error', listener: (error: Error) => void): unknown }>,
): void {
  for (const [name, emitter] of Object.entries(emitters)) {
    emitter.on('error', (error) => logger.error({ err: error }, `${name}: Redis error`));
  }
}
