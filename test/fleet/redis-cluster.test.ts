import {
  type AbsoluteResult,
  connectRedis,
  isErrorResult,
  QUEUES,
  queuePrefix,
  type RedisClient,
  type ResultRecord,
  runRedisKeys,
} from '@phudge/core';
import { IngestionLeases, RunStore } from '@phudge/producer';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAccounting } from '../support/accounting.js';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';
import { startRedisCluster, type TestClusterNode, type TestRedisCluster } from '../support/redis-cluster.js';
import { isFinished, waitForRun } from './chaos-support.js';

/** The cluster's settings as a service reads them from PHUDGE_REDIS_URL and PHUDGE_REDIS_CLUSTER. */
const settingsOf = (cluster: TestRedisCluster) => ({ url: cluster.url, cluster: true });

/** Every key a node holds (SCAN of that node alone: on a cluster, each master holds its own). */
async function keysOf(client: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Which node serves a slot, by asking each node for its own slot ranges. */
async function nodeOfSlot(cluster: Cluster, nodes: TestClusterNode[], slot: number): Promise<number> {
  const ranges = await cluster.cluster('SLOTS');
  const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
  if (!master) throw new Error(`no node serves slot ${slot}`);
  return nodes.findIndex((node) => node.port === master[1]);
}

describe('a Redis Cluster of three redis-server nodes', () => {
  let cluster: TestRedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  describe("the run store's scripts", () => {
    let redis: RedisClient;
    const keys = runRedisKeys({ queue: { prefix: 'store-test' }, redis: { cluster: true } });
    let runs: RunStore;
    beforeAll(async () => {
      redis = await connectRedis(settingsOf(cluster), 'client');
      runs = new RunStore(redis, keys);
    });
    afterAll(async () => {
      await redis?.quit();
    });

    const submission = {
      options: { name: 'nightly' },
      digest: 'digest',
      input: { uri: 'file:///in.jsonl' },
      chunkSize: 8,
    };

    it('keeps one run in one slot and runs of other ids in other slots', async () => {
      const slot = async (key: string) => Number(await redis.cluster('KEYSLOT', key));
      const ofRun = (runId: string) => [
        keys.run(runId),
        keys.counted(runId),
        keys.failed(runId),
        keys.gradings(runId),
        keys.lease(runId),
      ];
      const slots = await Promise.all(ofRun('run-a').map(slot));
      expect(new Set(slots).size).toBe(1);
      expect(await slot(keys.run('run-b'))).not.toBe(slots[0]);
      // A name's latest run and the baselines kept beside it.
      expect(await slot(keys.latest('nightly'))).toBe(await slot(keys.baseline('nightly', 'run-a')));
    });

    it('creates, counts, finishes, cancels, restores and reopens runs without a cross-slot error', async () => {
      expect((await runs.create('run-1', submission)).created).toBe(true);
      expect((await runs.create('run-1', submission)).created).toBe(false);
      expect(await runs.unIngested()).toContain('run-1');
      await runs.setEnqueued('run-1', 2);
      await runs.setIngested('run-1', 2, 16);
      expect(await runs.unIngested()).not.toContain('run-1');
      expect(await runs.applyChunk('run-1', 0, { items: 8 })).toEqual({
        outcome: 'applied',
        state: 'running',
        allCounted: false,
      });
      expect((await runs.applyChunk('run-1', 0, { items: 8 })).outcome).toBe('duplicate');
      expect(await runs.allCounted('run-1')).toBe(false);
      expect(await runs.applyChunk('run-1', 1, { items: 8 }, 'chunk 1: broken')).toMatchObject({
        outcome: 'applied',
        allCounted: true,
      });
      expect(await runs.allCounted('run-1')).toBe(true);
      expect((await runs.applyChunk('run-9', 0, { items: 8 })).outcome).toBe('unknown-run');
      expect(await runs.failedChunks('run-1')).toEqual([1]);
      expect(await runs.finish('run-1', 'failed')).toBe(true);
      expect(await runs.get('run-1')).toMatchObject({
        state: 'failed',
        done: 16,
        chunksDone: 2,
        chunksFailed: 1,
      });

      // Resubmitted: the failed chunk is uncounted, its counters taken back.
      expect(await runs.reopen('run-1', [1], { items: 8 })).toBe(true);
      expect(await runs.get('run-1')).toMatchObject({
        state: 'running',
        done: 8,
        chunksDone: 1,
        chunksFailed: 0,
      });
      expect(await runs.doneChunks('run-1')).toEqual(new Set([0]));

      expect((await runs.create('run-2', submission)).created).toBe(true);
      expect(await runs.cancel('run-2')).toBe(true);
      expect(await runs.cancel('run-2')).toBe(false);
      expect(await runs.unIngested()).not.toContain('run-2');

      // Rebuilt from the store: a run never ingested becomes one for the replicas to resume.
      const restored = {
        fields: { createdAt: '1', state: 'running', ingested: '0', chunksDone: '1', 'c:items': '8' },
        counted: [0],
        failed: [],
        gradings: { '0': 2 },
        finished: false,
      };
      expect(await runs.restore('run-3', restored)).toBe(true);
      expect(await runs.restore('run-3', restored)).toBe(false);
      expect(await runs.unIngested()).toContain('run-3');
      expect(await runs.gradingsOf('run-3', 0)).toBe(2);
      expect(await runs.unknown(['run-1', 'run-2', 'run-3', 'run-4'])).toEqual(['run-4']);
      await runs.settle('run-4');
      expect(await runs.unknown(['run-4'])).toEqual([]);
    });

    it('picks a baseline once per run: the latest run of its name before it', async () => {
      expect(await runs.baselineOf('night-1', 'nightly-name')).toBeUndefined();
      expect(await runs.baselineOf('night-2', 'nightly-name')).toBe('night-1');
      // Asked again (a report written twice), the same answer.
      expect(await runs.baselineOf('night-2', 'nightly-name')).toBe('night-1');
      expect(await runs.baselineOf('night-1', 'nightly-name')).toBeUndefined();
    });

    it('leases an ingestion to one holder at a time', async () => {
      const first = new IngestionLeases(redis, keys, 10_000);
      const second = new IngestionLeases(redis, keys, 10_000);
      expect(await first.acquire('run-5')).toBe(true);
      expect(await second.acquire('run-5')).toBe(false);
      expect(await second.renew('run-5')).toBe(false);
      expect(await first.renew('run-5')).toBe(true);
      await first.release('run-5');
      expect(await second.acquire('run-5')).toBe(true);
    });
  });

  describe('a fleet on it: a producer and a worker process', () => {
    let fleet: ProcessFleet;
    let probe: Cluster;
    beforeAll(async () => {
      fleet = await ProcessFleet.start({ cluster });
      await fleet.startProducer();
      await fleet.startWorker();
      probe = cluster.clusterClient();
    });
    afterAll(async () => {
      probe?.disconnect();
      // The fleet closes the cluster: the outer afterAll finds it closed already.
      await fleet?.close();
    });

    /** Run ids whose hash tags fall on each of the three nodes in turn, found by asking the cluster. */
    async function runIdsOnEveryNode(): Promise<string[]> {
      const chosen = new Map<number, string>();
      for (let i = 0; chosen.size < cluster.nodes.length; i++) {
        const runId = `cluster-run-${i}`;
        const slot = Number(await probe.cluster('KEYSLOT', runId));
        const node = await nodeOfSlot(probe, cluster.nodes, slot);
        if (!chosen.has(node)) chosen.set(node, runId);
      }
      return [...chosen.values()];
    }

    it('grades a run on each node end to end: every item once, in input order, counts and summary exact', async () => {
      const items = makeItems(40, 10);
      const bad = items.filter((item) => !('response' in (item as object))).length;
      for (const runId of await runIdsOnEveryNode()) {
        const client = fleet.client();
        const submitted = await client.submitRun({ items }, { runId, chunkSize: 8 });
        expect(submitted).toMatchObject({ runId, created: true });
        const status = await waitForRun(fleet, runId, isFinished);
        expect(status).toMatchObject({ state: 'completed', total: 40, done: 40, errors: bad, chunks: 5 });
        const store = fleet.openStore();
        try {
          expect(await runAccounting(store, runId)).toMatchObject({
            items: 40,
            lines: 40,
            lost: 0,
            duplicates: 0,
          });
        } finally {
          await store.close();
        }
        const results: ResultRecord[] = [];
        for await (const record of client.results(runId)) results.push(record);
        expect(results.map((record) => (record as { id: string }).id)).toEqual(
          items.map((item) => (item as { id: string }).id),
        );
        const errors = results.filter(isErrorResult);
        expect(errors.map((record) => record.error.code)).toEqual(Array(bad).fill('invalid_input'));
        const scores = results
          .filter((record): record is AbsoluteResult => !isErrorResult(record))
          .map((record) => record.score);
        expect(scores.every((score) => score >= 1 && score <= 5)).toBe(true);
        expect(await client.summary(runId)).toMatchObject({
          runId,
          items: 40,
          graded: 40 - bad,
          errors: bad,
          chunks: 5,
          chunksFailed: 0,
        });
      }
    });

    it("keeps each queue's keys in one slot and each run's keys in one slot, and spreads runs over every node", async () => {
      const prefix = queuePrefix(fleet.config);
      expect(prefix).toBe(`{${fleet.config.queue.prefix}}`);
      const runKeyPrefix = `${fleet.config.queue.prefix}:run:{`;
      const queueSlots = new Set<number>();
      const runSlots = new Map<string, Set<number>>();
      const nodesWithRuns = new Set<number>();
      for (const [index, node] of cluster.nodes.entries()) {
        const client = await cluster.nodeClient(node);
        try {
          const keys = await keysOf(client);
          expect(await client.dbsize()).toBe(keys.length);
          for (const key of keys) {
            const slot = Number(await client.cluster('KEYSLOT', key));
            if (key.startsWith(`${prefix}:`)) queueSlots.add(slot);
            if (key.startsWith(runKeyPrefix)) {
              const runId = key.slice(runKeyPrefix.length, key.indexOf('}', runKeyPrefix.length));
              runSlots.set(runId, (runSlots.get(runId) ?? new Set()).add(slot));
              nodesWithRuns.add(index);
            }
          }
        } finally {
          client.disconnect();
        }
      }
      // Every queue of the fleet wrote keys, all in the one slot of the prefix's hash tag.
      expect(queueSlots).toEqual(new Set([Number(await probe.cluster('KEYSLOT', prefix))]));
      const queueKeys = await Promise.all(
        [QUEUES.chunks, QUEUES.results].map((queue) => probe.exists(`${prefix}:${queue}:meta`)),
      );
      expect(queueKeys).toEqual([1, 1]);
      expect(runSlots.size).toBe(cluster.nodes.length);
      for (const slots of runSlots.values()) expect(slots.size).toBe(1);
      expect(nodesWithRuns.size).toBe(cluster.nodes.length);
    });
  });
});
