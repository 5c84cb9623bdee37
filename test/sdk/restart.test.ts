import { once } from 'node:events';
import { type AbsoluteResult, bullConnection, QUEUES } from '@phudge/core';
import { ConnectionError, PhudgeClient, type RetryInfo } from '@phudge/sdk';
import { QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { killService, ProcessFleet } from '../support/processes.js';

describe('the SDK across a producer restart', () => {
  let fleet: ProcessFleet | undefined;
  let events: QueueEvents | undefined;
  afterEach(async () => {
    await events?.close();
    await fleet?.close();
    fleet = undefined;
  });

  it('finishes a grade call whose producer is killed and restarted in the middle of it', async () => {
    fleet = await ProcessFleet.start();
    const first = await fleet.startProducer();
    const port = first.port as number;
    const retries: RetryInfo[] = [];
    const client = new PhudgeClient({
      url: `http://127.0.0.1:${port}`,
      token: fleet.token,
      // Enough retries (0.5 + 1 + 2 + 4 + 8 s of backoff) for a producer process to start again.
      maxRetries: 5,
      onRetry: (retry) => retries.push(retry),
    });
    events = new QueueEvents(QUEUES.chunks, {
      connection: bullConnection(fleet.config.redis.url, 'worker'),
      prefix: fleet.config.queue.prefix,
    });
    await events.waitUntilReady();
    const queued = once(events, 'waiting');

    const items = makeItems(6);
    const call = client.grade(items);
    await queued; // the producer has the call and waits for a worker: there is none yet
    await killService(first, 'SIGKILL');
    const [second] = await Promise.all([
      fleet.startProducer({ PHUDGE_PORT: String(port) }),
      fleet.startWorker(),
    ]);

    const { results } = await call;
    expect(results.map((record) => (record as AbsoluteResult).id)).toEqual(
      items.map((item) => (item as { id: string }).id),
    );
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]?.error).toBeInstanceOf(ConnectionError);
    // The retry carried the first attempt's runId: the restarted producer made no second run.
    const metrics = await (await fetch(`http://127.0.0.1:${second.port}/metrics`)).text();
    expect(metrics).toMatch(/^phudge_runs_submitted_total 0$/m);
  });
});
