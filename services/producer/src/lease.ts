import { randomUUID } from 'node:crypto';
import type { RedisClient, RunRedisKeys } from '@phudge/core';

/** Extends the lease only while this holder still has it. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** Gives the lease up only if this holder still has it (it may have expired and been taken). */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Leases on run ingestion in Redis: one key per run holding its owner's token, with a TTL. Only
 * the holder renews or releases it (compare-and-set in Lua), so an owner that died loses it when
 * it expires, and two replicas never own one run at once.
 */
export class IngestionLeases {
  /** This producer's token: every lease it takes carries it. */
  readonly token = randomUUID();
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RunRedisKeys,
    /** Lifetime of a lease not renewed. */
    readonly ttlMs: number,
  ) {}

  /** @returns whether this producer now holds the run's lease (false: another replica does). */
  async acquire(runId: string): Promise<boolean> {
    return (await this.redis.set(this.keys.lease(runId), this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** @returns false when the lease was lost (it expired, and maybe another replica took it). */
  async renew(runId: string): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.keys.lease(runId), this.token, String(this.ttlMs))) === 1;
  }

  async release(runId: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keys.lease(runId), this.token);
  }
}
