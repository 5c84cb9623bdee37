import { Redis, type RedisOptions } from 'ioredis';

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

/** A connection of our own (run state, health checks). */
export async function connectRedis(url: string, role: RedisRole): Promise<Redis> {
  const options: RedisOptions = { ...redisOptions(role), lazyConnect: true };
  const redis = new Redis(url, options);
  await redis.connect();
  return redis;
}
