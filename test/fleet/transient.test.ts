import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { openStore, runKeys, toJsonl } from '@phudge/core';
import type { RunStatus } from '@phudge/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { runAccounting } from '../support/accounting.js';
import { makeItems, TestFleet } from '../support/fleet.js';

/** Every state the run went through, polled until it ends (or `stop` says enough). */
async function watchStates(fleet: TestFleet, runId: string, states: Set<string>): Promise<RunStatus> {
  for (;;) {
    const status = await fleet.client.getRun(runId);
    states.add(status.state);
    if (status.state === 'completed' || status.state === 'failed') return status;
    await sleep(100);
  }
}

async function expectClean(fleet: TestFleet, runId: string, items: number): Promise<void> {
  const store = openStore(fleet.config);
  try {
    const accounting = await runAccounting(store, runId);
    expect(accounting).toMatchObject({ items, lines: items, lost: 0, duplicates: 0 });
  } finally {
    await store.close();
  }
}

describe('transient faults are retried, permanent ones fail', () => {
  let fleet: TestFleet | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('never fails a chunk for a store outage: with one attempt per chunk, the run completes', async () => {
    // One attempt: a chunk whose store error spent it would fail for good.
    fleet = await TestFleet.start({ PHUDGE_JOB_ATTEMPTS: '1' });
    await fleet.startWorker();
    const items = makeItems(300);
    await fleet.client.submitRun({ items }, { runId: 'outage-once', chunkSize: 10 });
    for (;;) {
      const status = await fleet.client.getRun('outage-once');
      if (status.total !== null && status.done >= 50) break;
      if (status.state === 'completed') throw new Error('the run ended before the outage');
      await sleep(20);
    }
    await fleet.s3.stop();
    await sleep(2000);
    await fleet.s3.start();
    const status = await fleet.client.waitForRun('outage-once', { intervalMs: 100, timeoutMs: 120_000 });
    expect(status).toMatchObject({ state: 'completed', done: 300, errors: 0 });
    await expectClean(fleet, 'outage-once', 300);
  });

  it('resumes an ingestion that a store outage outlasted, instead of failing its run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'phudge-input-'));
    const input = join(dir, 'input.jsonl');
    await writeFile(input, toJsonl(makeItems(200)));
    // A queue depth of one holds the ingestion after its first chunk until a worker takes it: the
    // submission (which writes run.json) meets a live store, the ingestion of chunk 1 a dead one.
    fleet = await TestFleet.start({
      PHUDGE_INPUT_ROOTS: dir,
      PHUDGE_RESUME_INTERVAL_MS: '200',
      PHUDGE_MAX_QUEUE_DEPTH: '1',
    });
    await fleet.client.submitRun(
      { uri: pathToFileURL(input).href },
      { runId: 'ingest-outage', chunkSize: 10 },
    );
    // Every chunk write now fails for longer than one step's retries (about 6 s), so the ingestion
    // itself stops and is resumed.
    await fleet.s3.stop();
    await fleet.startWorker();
    const states = new Set<string>();
    const watched = watchStates(fleet, 'ingest-outage', states);
    await sleep(9000);
    await fleet.s3.start();
    const status = await watched;
    expect(status).toMatchObject({ state: 'completed', total: 200, done: 200, errors: 0 });
    expect(states.has('failed')).toBe(false);
    const metrics = await (await fetch(`${fleet.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/phudge_ingestions_started_total\{kind="resumed"\} [1-9]/);
    await expectClean(fleet, 'ingest-outage', 200);
  });

  it('answers a submission the store cannot take with 503 and Retry-After, naming no internal host', async () => {
    fleet = await TestFleet.start();
    await fleet.s3.stop();
    const response = await fetch(`${fleet.apiUrl}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { items: makeItems(3) }, runId: 'store-down' }),
    });
    const body = await response.text();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(body)).toMatchObject({ error: 'unavailable' });
    expect(body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    await fleet.s3.start();
    const submitted = await fleet.client.submitRun({ items: makeItems(3) }, { runId: 'store-down' });
    expect(submitted.created).toBe(true);
  });

  it('resumes a failed run on resubmission: its failure is cleared, its failed chunk graded again, and it completes', async () => {
    fleet = await TestFleet.start();
    const items = makeItems(40);
    await fleet.client.submitRun({ items }, { runId: 'second-chance', chunkSize: 10 });
    const store = openStore(fleet.config);
    try {
      for (;;) {
        if ((await fleet.client.getRun('second-chance')).total === 40) break;
        await sleep(50);
      }
      const original = await store.get(runKeys.chunk('second-chance', 2));
      await store.put(runKeys.chunk('second-chance', 2), 'this is not a chunk\n');
      await fleet.startWorker();
      const failed = await fleet.client.waitForRun('second-chance', { intervalMs: 100, timeoutMs: 60_000 });
      expect(failed).toMatchObject({ state: 'failed', errors: 10 });
      expect(failed.failure).toMatch(/chunk 2: .* is corrupt/);

      await store.put(runKeys.chunk('second-chance', 2), original); // the cause is repaired
      const again = await fleet.client.submitRun({ items }, { runId: 'second-chance', chunkSize: 10 });
      expect(again.created).toBe(false);
      const status = await fleet.client.waitForRun('second-chance', { intervalMs: 100, timeoutMs: 60_000 });
      expect(status).toMatchObject({ state: 'completed', total: 40, done: 40, errors: 0, chunksDone: 4 });
      expect(status.failure).toBeUndefined();
      const summary = await fleet.client.summary('second-chance');
      expect(summary).toMatchObject({ items: 40, errors: 0, chunksFailed: 0 });
      expect(summary.errorCodes).toEqual({});
      await expectClean(fleet, 'second-chance', 40);
    } finally {
      await store.close();
    }
  });
});
