import type { PhudgeConfig } from '../config.js';

/**
 * BullMQ options shared by every queue: bounded history (Redis memory must not grow with the
 * number of runs) and a short events stream.
 */
export function queueOptions(config: Pick<PhudgeConfig, 'queue'>) {
  return {
    prefix: config.queue.prefix,
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
