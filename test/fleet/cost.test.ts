import { openStore, runKeys } from '@phudge/core';
import { afterEach, describe, expect, it } from 'vitest';
import { makeItems, TestFleet, type WorkerProcess } from '../support/fleet.js';

const GPU_HOUR_PRICE = 2.5;

/** Seconds the worker's engine spent in session.run so far, from its own /metrics. */
async function batchSecondsOf(worker: WorkerProcess): Promise<number> {
  const port = worker.logs.map((line) => /"port":(\d+)/.exec(line)?.[1]).find(Boolean);
  if (!port) throw new Error(`the worker logged no port:\n${worker.logs.join('\n')}`);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = /^phudge_batch_seconds_sum(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text)?.[1];
  if (sum === undefined) throw new Error('no phudge_batch_seconds_sum in the worker metrics');
  return Number(sum);
}

describe("a run's cost", () => {
  let fleet: TestFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('sums to the model time the engine spent on its batches, priced at PHUDGE_GPU_HOUR_PRICE, in summary and report', async () => {
    fleet = await TestFleet.start({ PHUDGE_GPU_HOUR_PRICE: String(GPU_HOUR_PRICE) });
    const worker = await fleet.startWorker();
    const before = await batchSecondsOf(worker);
    const { runId } = await fleet.client.submitRun({ items: makeItems(120) }, { chunkSize: 20 });
    const status = await fleet.client.waitForRun(runId, { intervalMs: 100 });
    expect(status).toMatchObject({ state: 'completed', done: 120, etaSeconds: null });
    const spent = (await batchSecondsOf(worker)) - before;
    const summary = await fleet.client.summary(runId);
    // Each batch's time is shared out over its prompts, so the shares add up to the batches'
    // time; each of the 6 chunks rounds its share to a whole millisecond.
    expect(spent).toBeGreaterThan(0);
    expect(summary.engineSeconds).toBeCloseTo(spent, 2);
    expect(summary.cost).toBeCloseTo(((summary.engineSeconds as number) / 3600) * GPU_HOUR_PRICE, 9);
    const store = openStore(fleet.config);
    try {
      const report = (await store.get(runKeys.report(runId))).toString('utf8');
      expect(report).toContain(`${((summary.engineSeconds as number) / 3600).toFixed(3)} GPU-h`);
      expect(report).toMatch(/id="cost">cost<b>\d+\.\d\d</);
    } finally {
      await store.close();
    }
  });
});
