import type { RedisClient, RunRedisKeys } from '@phudge/core';

/**
 * How many times each chunk's entries were handed to an engine, durable in Redis (one hash per
 * run, expired with the run): a chunk graded again after a worker died shows a count above 1 in
 * its part manifest, so regrades can be counted from the store after any fault.
 */
export class GradingCounter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RunRedisKeys,
  ) {}

  /** Counts one more grading of the chunk. @returns its number: 1 the first time. */
  async next(runId: string, chunk: number): Promise<number> {
    return this.redis.hincrby(this.keys.gradings(runId), String(chunk), 1);
  }

  /** Gradings of the chunk so far (an earlier attempt's, when it wrote its part and died). */
  async count(runId: string, chunk: number): Promise<number> {
    return Number((await this.redis.hget(this.keys.gradings(runId), String(chunk))) ?? 0);
  }
}
