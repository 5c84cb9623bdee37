import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AbsoluteResult,
  bullConnection,
  openStore,
  partManifestSchema,
  QUEUES,
  runKeys,
} from '@phudge/core';
import type { RunStatus } from '@phudge/sdk';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunAccounting, runAccounting } from '../support/accounting.js';
import { makeItems, TestFleet } from '../support/fleet.js';

/** Chunk jobs a worker holds at once (PHUDGE_WORKER_CONCURRENCY's default): what a dying worker can leave half-graded. */
const WORKER_CONCURRENCY = 4;
const CHUNK_SIZE = 16;

/** Waits until the run has done at least `items` items (so the fault lands mid-run). */
async function waitForProgress(
  fleet: TestFleet,
  runId: string,
  test: (status: RunStatus) => boolean,
): Promise<RunStatus> {
  for (;;) {
    const status = await fleet.client.getRun(runId);
    if (test(status)) return status;
    if (status.state === 'completed' || status.state === 'failed')
      throw new Error(`run ended before the fault: ${status.state}`);
    await sleep(50);
  }
}

/** The run completes with every item once, in order; @returns what the store says of it. */
async function expectExactlyOnce(fleet: TestFleet, runId: string, items: unknown[]): Promise<RunAccounting> {
  const status = await fleet.client.waitForRun(runId, { intervalMs: 200, timeoutMs: 180_000 });
  expect(status).toMatchObject({ state: 'completed', total: items.length, done: items.length, errors: 0 });
  const stored = await fleet.storedResults(runId, status.chunks as number);
  const ids = stored.map((record) => (record as AbsoluteResult).id);
  expect(ids).toEqual(items.map((item) => (item as { id: string }).id));
  const store = openStore(fleet.config);
  try {
    const accounting = await runAccounting(store, runId);
    expect(accounting).toMatchObject({ items: items.length, lines: items.length, lost: 0, duplicates: 0 });
    expect(accounting.partsWithoutManifest).toEqual([]);
    return accounting;
  } finally {
    await store.close();
  }
}

describe('fleet faults', () => {
  let fleet: TestFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('completes a run, every item exactly once, after a worker is killed with SIGKILL mid-run', async () => {
    fleet = await TestFleet.start();
    const [victim] = await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    const items = makeItems(1200);
    await fleet.client.submitRun({ items }, { runId: 'killed', chunkSize: CHUNK_SIZE });
    await waitForProgress(fleet, 'killed', (status) => status.done >= 150);
    victim?.child.kill('SIGKILL');
    expect(await victim?.exited).toBeNull(); // killed by the signal, no exit code
    const accounting = await expectExactlyOnce(fleet, 'killed', items);
    // Only the chunks the killed worker held can have been graded twice.
    expect(accounting.regradedItems).toBeLessThanOrEqual(WORKER_CONCURRENCY * CHUNK_SIZE);
  });

  it('completes a run after the S3 server is stopped for a few seconds mid-run', async () => {
    fleet = await TestFleet.start();
    await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    const items = makeItems(1200);
    await fleet.client.submitRun({ items }, { runId: 'outage', chunkSize: CHUNK_SIZE });
    await waitForProgress(fleet, 'outage', (status) => status.total !== null && status.done >= 100);
    await fleet.s3.stop();
    await sleep(3000);
    await fleet.s3.start();
    await expectExactlyOnce(fleet, 'outage', items);
  });

  it('drains a worker on SIGTERM: it exits cleanly, none of its chunks is taken over as stalled, the run completes exactly once', async () => {
    fleet = await TestFleet.start();
    const [leaving] = await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    const items = makeItems(1200);
    await fleet.client.submitRun({ items }, { runId: 'drained', chunkSize: CHUNK_SIZE });
    await waitForProgress(fleet, 'drained', (status) => status.done >= 150);
    leaving?.child.kill('SIGTERM');
    expect(await leaving?.exited).toBe(0);
    expect(leaving?.logs.some((line) => line.includes('"draining"'))).toBe(true);
    const accounting = await expectExactlyOnce(fleet, 'drained', items);
    // A drained worker finishes or hands back what it held: no lock is left to expire.
    expect(accounting.stalledChunks).toEqual([]);
    expect(accounting.regradedItems).toBeLessThanOrEqual(WORKER_CONCURRENCY * CHUNK_SIZE);
  });

  it('fails a chunk that can never succeed with its reason, keeps it inspectable, and ends the run as failed', async () => {
    fleet = await TestFleet.start();
    await fleet.client.submitRun({ items: makeItems(40) }, { runId: 'broken', chunkSize: 10 });
    await waitForProgress(fleet, 'broken', (status) => status.total === 40);
    // No worker yet: the run cannot be finished, so its results are not served.
    const early = fleet.client.results('broken');
    await expect(early.next()).rejects.toMatchObject({ status: 409 });
    const store = openStore(fleet.config);
    await store.put(runKeys.chunk('broken', 2), 'this is not a chunk\n');
    await fleet.startWorker();
    const status = await fleet.client.waitForRun('broken', { intervalMs: 200, timeoutMs: 60_000 });
    expect(status).toMatchObject({ state: 'failed', done: 40, errors: 10 });
    expect(status.failure).toMatch(/chunk 2: chunk object .* is corrupt/);
    const summary = await fleet.client.summary('broken');
    expect(summary.errorCodes).toEqual({ chunk_failed: 10 });
    const manifest = partManifestSchema.parse(
      JSON.parse((await store.get(runKeys.part('broken', 2))).toString('utf8')),
    );
    expect(manifest).toMatchObject({
      count: 0,
      attempt: 1,
      gradings: 0,
      counters: { items: 10, errors: 10 },
    });
    expect(manifest.failure).toMatch(/is corrupt/);
    await store.close();

    const chunks = new Queue(QUEUES.chunks, {
      connection: bullConnection(fleet.config.redis.url, 'client'),
      prefix: fleet.config.queue.prefix,
    });
    try {
      const failed = await chunks.getFailed();
      expect(failed.map((job) => job.id)).toEqual(['broken.2']);
      expect(failed[0]?.failedReason).toMatch(/is corrupt/);
      expect(failed[0]?.attemptsMade).toBe(1); // unrecoverable: not retried
    } finally {
      await chunks.close();
    }
  });
});
