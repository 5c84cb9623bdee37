import { setTimeout as sleep } from 'node:timers/promises';
import {
  bullConnection,
  chunkJobId,
  chunkJobSchema,
  openStore,
  QUEUES,
  runKeys,
  runManifestSchema,
} from '@phudge/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';

/** Chunk jobs the worker holds at once: an interactive chunk may wait for these, never the backlog. */
const CONCURRENCY = 2;
/** The big batch run, whose ingestion the queue depth holds back: it is still ingesting when cancelled. */
const BIG = { runId: 'big', items: 2000, chunkSize: 16 };
/** Chunk jobs waiting before ingestion pauses: the big run fills the queue, the small one must still get in. */
const QUEUE_DEPTH = 48;
const BIG_CHUNKS = Math.ceil(BIG.items / BIG.chunkSize);
/** A small batch run submitted after it, in several chunks, so that it has to take turns. */
const SMALL = { runId: 'small', items: 50, chunkSize: 8 };

/**
 * One worker, one big batch run filling the queue; then a grade, a small run and a cancellation
 * meet it, each in turn while it is far from done.
 */
describe('priorities, turns and cancellation on a busy fleet', () => {
  let fleet: TestFleet;
  let chunks: Queue;

  /** The chunk jobs of a run in these states. */
  const jobsOf = async (
    runId: string,
    states: ('active' | 'completed' | 'waiting' | 'prioritized' | 'delayed')[],
  ) => (await chunks.getJobs(states)).filter((job) => job && chunkJobSchema.parse(job.data).runId === runId);

  const waitUntil = async (check: () => Promise<boolean>) => {
    while (!(await check())) await sleep(50);
  };

  beforeAll(async () => {
    fleet = await TestFleet.start({
      PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY),
      PHUDGE_MAX_QUEUE_DEPTH: String(QUEUE_DEPTH),
    });
    chunks = new Queue(QUEUES.chunks, {
      connection: bullConnection(fleet.config.redis.url, 'client'),
      prefix: fleet.config.queue.prefix,
    });
    await fleet.startWorker();
    await fleet.client.submitRun(
      { items: makeItems(BIG.items) },
      { runId: BIG.runId, chunkSize: BIG.chunkSize, rubric: 'helpfulness' },
    );
    // The queue full, and a few chunks graded: the worker is at its steady pace.
    await waitUntil(async () => (await fleet.client.getRun(BIG.runId)).chunksDone >= 2 * CONCURRENCY);
  });
  afterAll(async () => {
    await chunks?.close();
    await fleet?.close();
  });

  it('answers a grade of 8 items within three chunk-times of the worker, ahead of the batch backlog', async () => {
    const waiting = (await jobsOf(BIG.runId, ['waiting', 'prioritized'])).length;
    const started = Date.now();
    const { results } = await fleet.client.grade(makeItems(8), { rubric: 'helpfulness', timeoutMs: 120_000 });
    const elapsed = Date.now() - started;
    expect(results).toHaveLength(8);
    // A chunk-time: how long one batch chunk was on the worker, sharing it with CONCURRENCY - 1 others.
    const times = (await jobsOf(BIG.runId, ['completed']))
      .map((job) => (job.finishedOn ?? 0) - (job.processedOn ?? 0))
      .sort((a, b) => a - b);
    const chunkTime = times[Math.floor(times.length / 2)] as number;
    // The backlog it jumped was far longer than that: FIFO would have made it wait for all of it.
    expect(waiting / CONCURRENCY).toBeGreaterThan(20);
    expect(elapsed / chunkTime).toBeLessThan(3);
  });

  it('completes a small batch run submitted after the big one while the big one is under half done', async () => {
    // The big run's ingestion waits for room: the small one's must not wait behind it.
    expect((await chunks.getJobCounts('prioritized')).prioritized).toBeGreaterThanOrEqual(QUEUE_DEPTH - 8);
    await fleet.client.submitRun(
      { items: makeItems(SMALL.items) },
      { runId: SMALL.runId, chunkSize: SMALL.chunkSize, rubric: 'helpfulness' },
    );
    const small = await fleet.client.waitForRun(SMALL.runId, { intervalMs: 50 });
    const big = await fleet.client.getRun(BIG.runId);
    expect(small).toMatchObject({ state: 'completed', done: SMALL.items });
    expect(big.chunksDone).toBeLessThan(BIG_CHUNKS / 2);
  });

  it('cancels the big run mid-run: chunks not on the engine are removed, those on it are kept and summed', async () => {
    const status = await fleet.client.cancelRun(BIG.runId);
    expect(status.state).toBe('cancelled');
    // It was cancelled mid-ingestion: the ingestion stopped, its total never known.
    expect(status.total).toBeNull();
    expect(status.chunksDone).toBeLessThan(BIG_CHUNKS / 2);
    expect(await jobsOf(BIG.runId, ['waiting', 'prioritized', 'delayed'])).toEqual([]);
    // The chunks on the engine finish; then nothing of the run is left to grade.
    await waitUntil(async () => (await jobsOf(BIG.runId, ['active'])).length === 0);
    const store = openStore(fleet.config);
    try {
      const parts = await store.list(runKeys.resultsPrefix(BIG.runId));
      // The collector has counted the last of them into the run and its summary.
      await waitUntil(async () => (await fleet.client.getRun(BIG.runId)).chunksDone === parts.length);
      const summary = await fleet.client.summary(BIG.runId);
      expect(summary).toMatchObject({
        cancelled: true,
        chunks: parts.length,
        items: parts.length * BIG.chunkSize,
      });
      expect(parts.length).toBeLessThan(BIG_CHUNKS / 2);
      let results = 0;
      for await (const _ of fleet.client.results(BIG.runId)) results += 1;
      expect(results).toBe(parts.length * BIG.chunkSize);
      // Cancelling again, or a run that completed, changes nothing.
      expect(await fleet.client.cancelRun(BIG.runId)).toMatchObject({
        state: 'cancelled',
        chunksDone: parts.length,
      });
      expect(await fleet.client.cancelRun(SMALL.runId)).toMatchObject({ state: 'completed' });
      // A chunk a replica's ingestion adds after the cancellation (its bulk was under way) is dropped.
      const late = parts.length + 1;
      const job = await chunks.add(
        'chunk',
        {
          runId: BIG.runId,
          chunk: late,
          uri: store.uri(runKeys.chunk(BIG.runId, late)),
          count: BIG.chunkSize,
        },
        { jobId: chunkJobId(BIG.runId, late) },
      );
      await waitUntil(async () => (await job.getState()) === 'completed');
      expect(await store.list(runKeys.resultsPrefix(BIG.runId))).toEqual(parts);
      expect(await chunks.getJobCounts('waiting', 'prioritized', 'delayed', 'active')).toEqual({
        waiting: 0,
        prioritized: 0,
        delayed: 0,
        active: 0,
      });
    } finally {
      await store.close();
    }
  });

  it('keeps a cancelled run cancelled when Redis loses it and it is rebuilt from the store', async () => {
    const before = await fleet.client.getRun(BIG.runId);
    const redis = new Redis(fleet.config.redis.url);
    try {
      await redis.flushall();
    } finally {
      redis.disconnect();
    }
    const rebuilt = await fleet.client.getRun(BIG.runId);
    expect(rebuilt).toMatchObject({ state: 'cancelled', chunksDone: before.chunksDone, done: before.done });
    expect(await chunks.getJobCounts('waiting', 'prioritized')).toEqual({ waiting: 0, prioritized: 0 });
  });

  it('keeps a cancelled run cancelled when an ingestion ending as it was cancelled rewrote run.json without the cancellation', async () => {
    const before = await fleet.client.getRun(BIG.runId);
    const store = openStore(fleet.config);
    const redis = new Redis(fleet.config.redis.url);
    try {
      // What another replica's ingestion writes when it ends as the run is cancelled: its totals,
      // from the run as it read it before the cancellation.
      const manifest = runManifestSchema.parse(
        JSON.parse((await store.get(runKeys.manifest(BIG.runId))).toString('utf8')),
      );
      const { cancelledAt, ...ended } = manifest;
      expect(cancelledAt).toBeDefined();
      const rewritten = { ...ended, chunks: BIG_CHUNKS, items: BIG.items };
      await store.put(runKeys.manifest(BIG.runId), JSON.stringify(rewritten));
      await redis.flushall();
    } finally {
      redis.disconnect();
      await store.close();
    }
    const rebuilt = await fleet.client.getRun(BIG.runId);
    expect(rebuilt).toMatchObject({ state: 'cancelled', chunksDone: before.chunksDone, done: before.done });
    expect(await chunks.getJobCounts('waiting', 'prioritized')).toEqual({ waiting: 0, prioritized: 0 });
  });
});
