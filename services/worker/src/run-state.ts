import type { RedisClient, RunRedisKeys } from '@phudge/core';

/**
 * What a worker reads of a run's state, in the producer's run hash: whether it was cancelled. A
 * cancellation removes the run's chunks from the queue, but one that a replica's ingestion adds
 * right after, or that a worker takes meanwhile, must not be graded either.
 */
export class RunStates {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RunRedisKeys,
  ) {}

  async isCancelled(runId: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.run(runId), 'state')) === 'cancelled';
  }
}
