import { afterEach, describe, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';
import { expectExactlyOnce, waitForRun } from './chaos-support.js';

const CHUNK_SIZE = 16;
const CONCURRENCY = 4;
const WORKERS = 2;

describe('Redis faults, every part a process', { timeout: 180_000 }, () => {
  let fleet: ProcessFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('Redis killed and restarted with AOF mid-run: the queues survive, 0 lost, 0 duplicated', async () => {
    fleet = await ProcessFleet.start({
      env: { PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY) },
      redis: { persistence: 'aof' },
    });
    await fleet.startProducer();
    await Promise.all(Array.from({ length: WORKERS }, () => fleet?.startWorker()));
    const items = makeItems(800);
    await fleet.client().submitRun({ items }, { runId: 'aof', chunkSize: CHUNK_SIZE });
    await waitForRun(fleet, 'aof', (status) => status.total !== null && status.done >= 150);
    await fleet.redis.stop('SIGKILL');
    await fleet.redis.start();
    // Chunks on the engines when Redis died may be graded again once their locks are gone.
    await expectExactlyOnce(fleet, 'aof', items, WORKERS * CONCURRENCY * CHUNK_SIZE);
  });

  it('Redis killed without persistence and restarted empty mid-run: the run is rebuilt from the store, 0 lost, 0 duplicated', async () => {
    fleet = await ProcessFleet.start({
      // The producer scans the store for runs Redis lost every second.
      env: { PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY), PHUDGE_RECOVERY_INTERVAL_MS: '1000' },
      redis: { persistence: 'none' },
    });
    await fleet.startProducer();
    await Promise.all(Array.from({ length: WORKERS }, () => fleet?.startWorker()));
    const items = makeItems(800);
    await fleet.client().submitRun({ items }, { runId: 'empty', chunkSize: CHUNK_SIZE });
    await waitForRun(fleet, 'empty', (status) => status.total !== null && status.done >= 150);
    await fleet.redis.stop('SIGKILL');
    await fleet.redis.start(); // empty: no queue, no run record
    // The chunks on the engines when Redis died are written once more when the rebuilt run
    // enqueues every chunk that has no part manifest yet.
    await expectExactlyOnce(fleet, 'empty', items, WORKERS * CONCURRENCY * CHUNK_SIZE);
  });
});
