import { afterEach, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';

describe('process fleet', () => {
  let fleet: ProcessFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('runs a producer and a worker as processes', async () => {
    fleet = await ProcessFleet.start();
    await fleet.startProducer();
    await fleet.startWorker();
    const items = makeItems(50);
    const { runId } = await fleet.client().submitRun({ items }, { chunkSize: 16 });
    const status = await fleet.client().waitForRun(runId, { intervalMs: 100, timeoutMs: 60_000 });
    expect(status).toMatchObject({ state: 'completed', total: 50, done: 50 });
  });
});
