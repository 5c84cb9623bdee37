import { afterEach, describe, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';
import type { RedisPersistence } from '../support/redis.js';
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

  /** Starts a fleet on a Redis kept as `persistence` says, and kills Redis 150 items into a run. */
  async function killRedisMidRun(
    runId: string,
    persistence: RedisPersistence,
  ): Promise<{ started: ProcessFleet; items: unknown[] }> {
    const started = await ProcessFleet.start({
      // The producer scans the store for runs Redis lost every second.
      env: { PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY), PHUDGE_RECOVERY_INTERVAL_MS: '1000' },
      redis: { persistence },
    });
    fleet = started;
    await started.startProducer();
    await Promise.all(Array.from({ length: WORKERS }, () => started.startWorker()));
    const items = makeItems(800);
    await started.client().submitRun({ items }, { runId, chunkSize: CHUNK_SIZE });
    await waitForRun(started, runId, (status) => status.total !== null && status.done >= 150);
    await started.redis.stop('SIGKILL');
    await started.redis.start();
    return { started, items };
  }

  it('Redis killed and restarted with AOF mid-run: the queues survive, 0 lost, 0 duplicated', async () => {
    const { started, items } = await killRedisMidRun('aof', 'aof');
    // Chunks on the engines when Redis died may be graded again once their locks are gone.
    await expectExactlyOnce(started, 'aof', items, WORKERS * CONCURRENCY * CHUNK_SIZE);
  });

  it('Redis killed without persistence and restarted empty mid-run: the run is rebuilt from the store, 0 lost, 0 duplicated', async () => {
    const { started, items } = await killRedisMidRun('empty', 'none'); // Redis comes back with no queue, no run
    // The chunks on the engines when Redis died are written once more when the rebuilt run
    // enqueues every chunk that has no part manifest yet.
    await expectExactlyOnce(started, 'empty', items, WORKERS * CONCURRENCY * CHUNK_SIZE);
  });
});
