import type { PhudgeConfig } from '../config.js';

/** A key prefix holding a Redis hash tag: the first `{` and, after it, text up to a `}`. */
const HASH_TAG = /^[^{]*\{[^}]+\}/;

/**
 * The BullMQ key prefix. BullMQ's scripts touch many keys of a queue at once, which a Redis
 * Cluster allows only within one slot, so there the prefix is a hash tag (`{phudge}`, or the
 * prefix as it is when it holds one already): every key of every queue then shares one slot. A
 * single Redis keeps the plain prefix, so that a fleet that upgrades keeps its queues.
 */
export function queuePrefix(config: { queue: { prefix: string }; redis: { cluster: boolean } }): string {
  const { prefix } = config.queue;
  return config.redis.cluster && !HASH_TAG.test(prefix) ? `{${prefix}}` : prefix;
}

/**
 * BullMQ options shared by every queue: bounded history (Redis memory must not grow with the
 * number of runs) and a short events stream.
 */
export function queueOptions(config: Pick<PhudgeConfig, 'queue' | 'redis'>) {
  return {
    prefix: queuePrefix(config),
    // Events are only for live observers; 1000 entries is minutes of history at fleet rates.
    streams: { events: { maxLen: 1000 } },
    defaultJobOptions: {
      attempts: config.queue.attempts,
      backoff: { type: 'exponential' as const, delay: config.queue.backoffMs },
      // Completed jobs are kept an hour (and at most 1000) for inspection; failed ones a week
      // (at most 10000), so that a chunk that could never succeed can be looked at.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    },
  };
}
