import { connectRedis, type RedisClient, runRedisKeys } from '@phudge/core';
import { RunStore } from '@phudge/producer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../support/redis.js';

const keys = runRedisKeys({ queue: { prefix: 'crash-test' }, redis: { cluster: false } });
const submission = { options: {}, digest: 'digest', input: { uri: 'file:///in.jsonl' }, chunkSize: 8 };
const neverIngested = {
  fields: { createdAt: '1', state: 'running', ingested: '0', chunksDone: '0' },
  counted: [],
  failed: [],
  gradings: {},
  finished: false,
};

class ProducerKilled extends Error {}

/**
 * The real Redis, as a producer sees it that dies right after a run's script ran: the script's
 * writes are in Redis, and the producer sends nothing more.
 */
function diesAfterScript(redis: RedisClient): RedisClient {
  return new Proxy(redis, {
    get(target, property, receiver) {
      if (property !== 'eval') return Reflect.get(target, property, receiver);
      return async (...args: Parameters<RedisClient['eval']>) => {
        await target.eval(...args);
        throw new ProducerKilled('the producer was killed');
      };
    },
  });
}

/**
 * The real Redis, as a producer sees it while another replica's ingestion scan looks at the run
 * just before its script: the replica finds no run (or a failed one) and takes it out of the set.
 */
function replicaLooksFirst(redis: RedisClient, runId: string): RedisClient {
  return new Proxy(redis, {
    get(target, property, receiver) {
      if (property !== 'eval') return Reflect.get(target, property, receiver);
      return async (...args: Parameters<RedisClient['eval']>) => {
        await target.srem(keys.unIngested(), runId);
        return target.eval(...args);
      };
    },
  });
}

/** The set of runs to ingest is written apart from a run's own script (another slot of a cluster). */
describe('a run that needs ingesting stays in the set of runs to resume', () => {
  let server: TestRedis;
  let redis: RedisClient;
  beforeAll(async () => {
    server = await startRedis();
    redis = await connectRedis(server.url, 'client');
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.close();
  });

  it('when its producer is killed right after the script that created, restored or reopened it', async () => {
    const dying = new RunStore(diesAfterScript(redis), keys);
    await expect(dying.create('created', submission)).rejects.toBeInstanceOf(ProducerKilled);
    await expect(dying.restore('restored', neverIngested)).rejects.toBeInstanceOf(ProducerKilled);

    const runs = new RunStore(redis, keys);
    await runs.create('reopened', submission);
    await runs.finish('reopened', 'failed', 'chunk 0: broken');
    await runs.settleIngestion('reopened');
    await expect(dying.reopen('reopened', [0], {})).rejects.toBeInstanceOf(ProducerKilled);

    expect((await runs.get('reopened'))?.state).toBe('running');
    expect((await runs.unIngested()).sort()).toEqual(['created', 'reopened', 'restored']);
  });

  it("when another replica's scan took it out of the set just before its script ran", async () => {
    const runs = new RunStore(redis, keys);
    expect(
      (await new RunStore(replicaLooksFirst(redis, 'created-2'), keys).create('created-2', submission))
        .created,
    ).toBe(true);
    expect(
      await new RunStore(replicaLooksFirst(redis, 'restored-2'), keys).restore('restored-2', neverIngested),
    ).toBe(true);
    await runs.create('reopened-2', submission);
    await runs.finish('reopened-2', 'failed', 'chunk 0: broken');
    expect(
      await new RunStore(replicaLooksFirst(redis, 'reopened-2'), keys).reopen('reopened-2', [0], {}),
    ).toBe(true);
    expect(await runs.unIngested()).toEqual(
      expect.arrayContaining(['created-2', 'restored-2', 'reopened-2']),
    );
  });
});
