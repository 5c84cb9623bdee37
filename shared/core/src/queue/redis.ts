import type { ConnectionOptions } from 'bullmq';
import { Cluster, type ClusterOptions, Redis, type RedisOptions, ReplyError } from 'ioredis';
import { UnrecoverableError } from '../errors.js';
import type { Logger } from '../logging.js';
import { type RedisSettings, type RedisTarget, redisTarget } from './redis-target.js';

/** A connection of our own: to one Redis, or to a Redis Cluster (the same commands). */
export type RedisClient = Redis | Cluster;

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

/** A BullMQ `connection` option of one Redis for the role (BullMQ opens its own sockets from it). */
export function bullConnection(url: string, role: RedisRole): RoleOptions & { url: string } {
  return { url, ...redisOptions(role) };
}

/**
 * The `connection` options of one service's BullMQ queues and workers. For one Redis, options:
 * BullMQ opens and closes its own sockets, as it always did. For a Redis Cluster, BullMQ needs a
 * Cluster client of the caller's, which it never closes: one per role, shared by that role's
 * queues (a worker's blocking reads get a duplicate of BullMQ's own), quit by `close` once every
 * queue and worker built on them is closed.
 */
export class BullConnections {
  private readonly target: RedisTarget;
  private readonly clusters = new Map<RedisRole, Cluster>();

  constructor(settings: RedisSettings) {
    this.target = redisTarget(settings);
  }

  for(role: RedisRole): ConnectionOptions {
    if (this.target.kind === 'single') return bullConnection(this.target.url, role);
    let cluster = this.clusters.get(role);
    if (!cluster) {
      cluster = clusterClient(this.target, role);
      this.clusters.set(role, cluster);
    }
    return cluster;
  }

  async close(): Promise<void> {
    const clusters = [...this.clusters.values()];
    this.clusters.clear();
    await Promise.all(clusters.map((cluster) => cluster.quit().catch(() => cluster.disconnect())));
  }
}

/**
 * A client of a Redis Cluster for the role: it asks the seed nodes for the cluster's layout and
 * sends each command to the node of its key's slot (following MOVED and ASK as slots move).
 */
function clusterClient(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  role: RedisRole,
  extra: Pick<ClusterOptions, 'lazyConnect'> = {},
): Cluster {
  const { maxRetriesPerRequest, connectTimeout, retryStrategy } = redisOptions(role);
  return new Cluster(target.nodes, {
    enableOfflineQueue: true,
    // Reconnecting to the cluster as a whole, at the role's pace (a worker's: forever).
    ...(retryStrategy ? { clusterRetryStrategy: retryStrategy } : {}),
    redisOptions: {
      maxRetriesPerRequest,
      ...(connectTimeout ? { connectTimeout } : {}),
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
    // Over TLS, nodes are reached by the names they are given (a managed cluster's endpoint),
    // not by the address DNS resolves them to, so that the certificate's name matches.
    ...(target.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    ...extra,
  });
}

/**
 * A connection of our own (run state, health checks): to the Redis of a URL, or to what the
 * config's Redis settings name (one Redis, or a Redis Cluster).
 * @throws UnrecoverableError when Redis refuses the credentials of the URL: retrying cannot help,
 *   so the service stops at start-up saying so (the URL, which holds the password, is not shown).
 */
export async function connectRedis(url: string, role: RedisRole): Promise<Redis>;
export async function connectRedis(settings: RedisSettings, role: RedisRole): Promise<RedisClient>;
export async function connectRedis(where: string | RedisSettings, role: RedisRole): Promise<RedisClient> {
  const target = typeof where === 'string' ? { kind: 'single' as const, url: where } : redisTarget(where);
  const redis =
    target.kind === 'single'
      ? new Redis(target.url, { ...redisOptions(role), lazyConnect: true } satisfies RedisOptions)
      : clusterClient(target, role, { lazyConnect: true });
  let refused: (error: Error) => void = () => {};
  const authFailure = new Promise<never>((_, reject) => {
    refused = reject;
  });
  const onError = (error: Error) => {
    if (isAuthError(error)) refused(error);
  };
  redis.on('error', onError);
  // A cluster reports each node's own errors apart from its own.
  redis.on('node error', onError);
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
    redis.off('node error', onError);
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
