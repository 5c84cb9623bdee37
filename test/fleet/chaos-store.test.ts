import { setTimeout as sleep } from 'node:timers/promises';
import { toJsonl } from '@phudge/core';
import { afterEach, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';
import { expectExactlyOnce, waitForRun } from './chaos-support.js';

const CONCURRENCY = 4;
const WORKERS = 2;

/** A fleet whose ingestion keeps pace with its workers (a short queue), so a fault can land in it. */
async function startFleet(env: Record<string, string> = {}): Promise<ProcessFleet> {
  const fleet = await ProcessFleet.start({
    env: { PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY), PHUDGE_MAX_QUEUE_DEPTH: '4', ...env },
  });
  await fleet.startProducer();
  await Promise.all(Array.from({ length: WORKERS }, () => fleet.startWorker()));
  return fleet;
}

/** Submits `count` items as a JSONL object in the store, as a nightly run reads its input. */
async function submitStored(fleet: ProcessFleet, runId: string, count: number, chunkSize: number) {
  const items = makeItems(count);
  const store = fleet.openStore();
  const key = `inputs/${runId}.jsonl`;
  try {
    await store.put(key, toJsonl(items));
    await fleet.client().submitRun({ uri: store.uri(key) }, { runId, chunkSize });
  } finally {
    await store.close();
  }
  return items;
}

describe('store faults, every part a process', { timeout: 150_000 }, () => {
  let fleet: ProcessFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('the store down for 3 s during ingestion: the run completes, 0 lost, 0 duplicated', async () => {
    fleet = await startFleet();
    const chunkSize = 8;
    const items = await submitStored(fleet, 'ingest-outage', 1600, chunkSize);
    const during = await waitForRun(fleet, 'ingest-outage', (status) => status.done >= 200);
    expect(during.total).toBeNull(); // still ingesting: the outage lands in ingestion
    await fleet.s3.stop();
    await sleep(3000);
    await fleet.s3.start();
    await expectExactlyOnce(fleet, 'ingest-outage', items, WORKERS * CONCURRENCY * chunkSize);
  });

  it('a store that accepts connections but never answers, for 5 s during ingestion and grading: the run completes', async () => {
    // A request the store swallowed is given up after 2 s (30 s by default), then retried.
    fleet = await startFleet({ PHUDGE_S3_REQUEST_TIMEOUT_MS: '2000' });
    const chunkSize = 8;
    const items = await submitStored(fleet, 'stalled-store', 1600, chunkSize);
    const during = await waitForRun(fleet, 'stalled-store', (status) => status.done >= 200);
    expect(during.total).toBeNull();
    fleet.proxy.stall();
    await sleep(5000);
    // The connections it swallowed stay silent for good: only the services' own timeouts get past.
    fleet.proxy.heal();
    await expectExactlyOnce(fleet, 'stalled-store', items, WORKERS * CONCURRENCY * chunkSize);
  });

  it('the store down for 3 s during grading: the run completes, 0 lost, 0 duplicated', async () => {
    fleet = await startFleet();
    const chunkSize = 16;
    const items = makeItems(800);
    await fleet.client().submitRun({ items }, { runId: 'grade-outage', chunkSize });
    await waitForRun(fleet, 'grade-outage', (status) => status.total !== null && status.done >= 100);
    await fleet.s3.stop();
    await sleep(3000);
    await fleet.s3.start();
    await expectExactlyOnce(fleet, 'grade-outage', items, WORKERS * CONCURRENCY * chunkSize);
  });

  it('store connections reset mid-run: the run completes, 0 lost, 0 duplicated', async () => {
    fleet = await startFleet();
    const chunkSize = 16;
    const items = makeItems(800);
    await fleet.client().submitRun({ items }, { runId: 'reset-store', chunkSize });
    await waitForRun(fleet, 'reset-store', (status) => status.total !== null && status.done >= 100);
    for (let i = 0; i < 5; i++) {
      fleet.proxy.reset();
      await sleep(200);
    }
    await expectExactlyOnce(fleet, 'reset-store', items, WORKERS * CONCURRENCY * chunkSize);
  });
});
