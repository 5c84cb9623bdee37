import { bullConnection, QUEUES } from '@phudge/core';
import { QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { killService, ProcessFleet } from '../support/processes.js';
import { expectExactlyOnce, waitForRun } from './chaos-support.js';

const CHUNK_SIZE = 16;
const CONCURRENCY = 4;
/** The most items one worker holds at once: what its death may cost in regrading. */
const HELD_BY_ONE_WORKER = CHUNK_SIZE * CONCURRENCY;

describe('worker faults, every part a process', { timeout: 150_000 }, () => {
  let fleet: ProcessFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('a worker SIGKILLed mid-run: 0 lost, 0 duplicated, regraded no more than the items it held', async () => {
    fleet = await ProcessFleet.start({ env: { PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY) } });
    await fleet.startProducer();
    const victim = await fleet.startWorker();
    await fleet.startWorker();
    const items = makeItems(800);
    await fleet.client().submitRun({ items }, { runId: 'killed', chunkSize: CHUNK_SIZE });
    await waitForRun(fleet, 'killed', (status) => status.done >= 150);
    expect(await killService(victim, 'SIGKILL')).toBeNull();
    await expectExactlyOnce(fleet, 'killed', items, HELD_BY_ONE_WORKER);
  });

  it('a worker drained by SIGTERM exits 0, none of its chunks is taken over as stalled, regraded no more than it held', async () => {
    fleet = await ProcessFleet.start({ env: { PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY) } });
    await fleet.startProducer();
    const events = new QueueEvents(QUEUES.chunks, {
      connection: bullConnection(fleet.config.redis.url, 'worker'),
      prefix: fleet.config.queue.prefix,
    });
    const stalled: string[] = [];
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    try {
      await events.waitUntilReady();
      const leaving = await fleet.startWorker();
      await fleet.startWorker();
      const items = makeItems(800);
      await fleet.client().submitRun({ items }, { runId: 'drained', chunkSize: CHUNK_SIZE });
      await waitForRun(fleet, 'drained', (status) => status.done >= 150);
      expect(await killService(leaving, 'SIGTERM')).toBe(0);
      expect(leaving?.logs.some((line) => line.includes('"draining"'))).toBe(true);
      // A chunk only partly on the engine when the drain began is handed back whole, so its
      // items on the engine are graded again elsewhere: at most what the worker held.
      const accounting = await expectExactlyOnce(fleet, 'drained', items, HELD_BY_ONE_WORKER);
      expect(accounting.stalledChunks).toEqual([]);
      expect(stalled).toEqual([]);
    } finally {
      await events.close();
    }
  });
});
