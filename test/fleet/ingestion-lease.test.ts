import { setTimeout as sleep } from 'node:timers/promises';
import { bullConnection, connectRedis, openStore, QUEUES, runRedisKeys } from '@phudge/core';
import { IngestionLeases } from '@phudge/producer';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { runAccounting } from '../support/accounting.js';
import { makeItems, TestFleet } from '../support/fleet.js';
import { startRedis, type TestRedis } from '../support/redis.js';

/** Lease keys of a single Redis, under a prefix of this test's own. */
const LEASE_KEYS = runRedisKeys({ queue: { prefix: 'lease-test' }, redis: { cluster: false } });

/** A counter of a producer's /metrics, by its labels (0 when it has none yet). */
async function metric(port: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const series = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((entry) => entry.startsWith(series));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Polls until `test` holds (a state change that has no event to await), or fails after `ms`. */
async function until(test: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('ingestion leases', () => {
  let redis: TestRedis | undefined;
  let fleet: TestFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
    await redis?.close();
    redis = undefined;
  });

  it('is held by one producer at a time, renewed and released only by its holder, and free once it expires', async () => {
    redis = await startRedis();
    const client = await connectRedis(redis.url, 'client');
    try {
      const first = new IngestionLeases(client, LEASE_KEYS, 400);
      const second = new IngestionLeases(client, LEASE_KEYS, 400);
      expect(await first.acquire('r1')).toBe(true);
      expect(await second.acquire('r1')).toBe(false);
      expect(await second.renew('r1')).toBe(false);
      await second.release('r1'); // not its lease: nothing happens
      expect(await second.acquire('r1')).toBe(false);
      expect(await first.renew('r1')).toBe(true);
      // The holder dies (stops renewing): the lease expires and another producer takes it.
      await until(() => second.acquire('r1'), 2000, 'the lease to expire');
      expect(await first.renew('r1')).toBe(false);
      await second.release('r1');
      expect(await first.acquire('r1')).toBe(true);
    } finally {
      await client.quit();
    }
  });

  it('ingests a run submitted to two producers at once exactly once', async () => {
    fleet = await TestFleet.start({ PHUDGE_RESUME_INTERVAL_MS: '100' });
    const other = await fleet.startProducer();
    const items = makeItems(400);
    const submissions = await Promise.all([
      fleet.client.submitRun({ items }, { runId: 'twice', chunkSize: 10 }),
      other.client.submitRun({ items }, { runId: 'twice', chunkSize: 10 }),
    ]);
    expect(submissions.map((submission) => submission.created).sort()).toEqual([false, true]);
    await fleet.startWorker();
    const status = await fleet.client.waitForRun('twice', { intervalMs: 100, timeoutMs: 60_000 });
    expect(status).toMatchObject({ state: 'completed', total: 400, done: 400 });
    const started = async (port: number) =>
      (await metric(port, 'phudge_ingestions_started_total', 'kind="submitted"')) +
      (await metric(port, 'phudge_ingestions_started_total', 'kind="resumed"'));
    expect((await started(fleet.producer.port)) + (await started(other.producer.port))).toBe(1);
  });

  it('resumes at once on another replica the ingestion of a producer stopped mid-way, skipping what was enqueued', async () => {
    // A long lease: only its release on stop lets the other replica take over quickly.
    const leaseMs = 30_000;
    fleet = await TestFleet.start({
      PHUDGE_RESUME_INTERVAL_MS: '100',
      PHUDGE_INGEST_LEASE_MS: String(leaseMs),
      // No worker yet: ingestion pauses once a few bulks wait, so the stop lands mid-ingestion.
      PHUDGE_MAX_QUEUE_DEPTH: '3',
    });
    const other = await fleet.startProducer();
    const chunks = new Queue(QUEUES.chunks, {
      connection: bullConnection(fleet.config.redis.url, 'client'),
      prefix: fleet.config.queue.prefix,
    });
    try {
      const items = makeItems(1000);
      await fleet.client.submitRun({ items }, { runId: 'handed-over', chunkSize: 10 });
      await until(
        async () => {
          // Batch chunks carry priorities: BullMQ counts them as prioritized.
          const counts = await chunks.getJobCounts('waiting', 'prioritized');
          return (counts.waiting ?? 0) + (counts.prioritized ?? 0) >= 3;
        },
        20_000,
        'chunks to wait',
      );
      expect((await fleet.client.getRun('handed-over')).total).toBeNull(); // not ingested yet
      // Paused on backpressure (no worker consumes), so this count holds until the stop.
      const enqueuedBefore = await metric(fleet.producer.port, 'phudge_chunks_enqueued_total', '');
      expect(enqueuedBefore).toBeGreaterThan(0);
      const stoppedAt = Date.now();
      await fleet.producer.stop();
      await until(
        async () =>
          (await metric(other.producer.port, 'phudge_ingestions_started_total', 'kind="resumed"')) === 1,
        leaseMs / 2,
        'the other replica to resume the ingestion',
      );
      expect(Date.now() - stoppedAt).toBeLessThan(leaseMs / 2);
      await fleet.startWorker();
      const status = await other.client.waitForRun('handed-over', { intervalMs: 100, timeoutMs: 60_000 });
      expect(status).toMatchObject({ state: 'completed', total: 1000, done: 1000, errors: 0, chunks: 100 });
      const store = openStore(fleet.config);
      try {
        const accounting = await runAccounting(store, 'handed-over');
        expect(accounting).toMatchObject({
          items: 1000,
          lines: 1000,
          lost: 0,
          duplicates: 0,
          regradedItems: 0,
        });
        // Every chunk was enqueued once: the resumed ingestion skipped those the stopped one enqueued.
        const enqueuedAfter = await metric(other.producer.port, 'phudge_chunks_enqueued_total', '');
        expect(enqueuedBefore + enqueuedAfter).toBe(100);
      } finally {
        await store.close();
      }
    } finally {
      await chunks.close();
    }
  });
});
