import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bullConnection,
  openStore,
  QUEUES,
  type WebhookEvent,
  webhookEventSchema,
  webhookJobId,
} from '@phudge/core';
import type { PhudgeClient } from '@phudge/sdk';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';

const SECRET = 'webhook-test-secret';

/** One request the receiver got, and what it answered. */
interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

/**
 * A webhook receiver on a port of its own: it records every request and answers 500 to the next
 * `failNext` ones. It can be closed and opened again on the same port (a receiver that is down).
 */
class Receiver {
  readonly requests: Received[] = [];
  failNext = 0;
  private server: Server | undefined;
  port = 0;

  async open(): Promise<void> {
    const server = createServer((request, response) => {
      const parts: Buffer[] = [];
      request.on('data', (part: Buffer) => parts.push(part));
      request.on('end', () => {
        const status = this.failNext > 0 ? 500 : 200;
        if (status === 500) this.failNext--;
        this.requests.push({
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(parts).toString('utf8'),
          status,
        });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The requests of one event id at one path. */
  of(eventId: string, path = '/all'): Received[] {
    return this.requests.filter((r) => r.path === path && r.headers['x-phudge-event-id'] === eventId);
  }

  /** Waits until the event was accepted (answered 200) at the path. */
  async delivered(eventId: string, path = '/all'): Promise<Received> {
    for (;;) {
      const ok = this.of(eventId, path).find((r) => r.status === 200);
      if (ok) return ok;
      await sleep(50);
    }
  }
}

/** Checks a request's signature as a receiver would: the HMAC of the raw body. */
function expectSigned(request: Received): void {
  const expected = `sha256=${createHmac('sha256', SECRET).update(request.body).digest('hex')}`;
  expect(request.headers['x-phudge-signature']).toBe(expected);
}

/** The event of a request, after checking its signature. */
function verified(request: Received): WebhookEvent {
  expectSigned(request);
  const event = webhookEventSchema.parse(JSON.parse(request.body));
  expect(request.headers['x-phudge-event-id']).toBe(event.id);
  return event;
}

describe('webhooks of run events', () => {
  const receiver = new Receiver();
  let fleet: TestFleet;
  let client: PhudgeClient;
  let webhooks: Queue;

  beforeAll(async () => {
    await receiver.open();
    fleet = await TestFleet.start({
      PHUDGE_WEBHOOK_SECRET: SECRET,
      PHUDGE_WEBHOOK_URLS: receiver.url('/all'),
      PHUDGE_WEBHOOK_BACKOFF_MS: '100',
    });
    client = fleet.client;
    webhooks = new Queue(QUEUES.webhooks, {
      connection: bullConnection(fleet.config.redis.url, 'client'),
      prefix: fleet.config.queue.prefix,
    });
  });
  afterAll(async () => {
    await webhooks?.close();
    await fleet?.close();
    await receiver.close();
  });

  it('sends run.cancelled, signed, for a run cancelled before any chunk was graded', async () => {
    // No worker yet: the run's chunks wait until the cancellation removes them.
    await client.submitRun({ items: makeItems(4) }, { runId: 'cancelled-run', chunkSize: 2 });
    await client.cancelRun('cancelled-run');
    const event = verified(await receiver.delivered('cancelled-run.run.cancelled'));
    expect(event).toMatchObject({
      id: 'cancelled-run.run.cancelled',
      type: 'run.cancelled',
      run: { runId: 'cancelled-run', state: 'cancelled', counts: { items: 0, errors: 0 }, meanScore: null },
    });
    expect(event.run.reportUri).toMatch(/runs\/cancelled-run\/report\.html$/);
  });

  it('retries a receiver that answered 500, delivering run.completed once, and a run notify in Slack shape', async () => {
    await fleet.startWorker();
    receiver.failNext = 1;
    const slack = receiver.url('/slack');
    await client.submitRun(
      { items: makeItems(6, 3) },
      { runId: 'done-run', name: 'nightly', chunkSize: 4, notify: { url: slack, format: 'slack' } },
    );
    const event = verified(await receiver.delivered('done-run.run.completed'));
    expect(event.run).toMatchObject({ runId: 'done-run', name: 'nightly', state: 'completed' });
    expect(event.run.counts).toEqual({ items: 6, errors: 2 });
    expect(event.run.meanScore).toEqual(expect.any(Number));
    // The first try met the 500, the second was accepted, and the job is done: nothing more comes.
    const job = await webhooks.getJob(webhookJobId(event.id, receiver.url('/all')));
    expect(job && (await job.getState())).toBe('completed');
    expect(job?.attemptsMade).toBe(2);
    expect(receiver.of(event.id).map((r) => r.status)).toEqual([500, 200]);

    const message = await receiver.delivered(event.id, '/slack');
    expectSigned(message);
    const { text } = JSON.parse(message.body) as { text: string };
    expect(text).toContain('nightly (done-run) completed: 6 items, 2 errors');
    expect(text).toContain('/runs/done-run/report.html');
  });

  it('sends run.failed, without a report, for a run whose input cannot be read', async () => {
    const store = openStore(fleet.config);
    const key = 'inputs/broken.jsonl.gz';
    try {
      // A gzip header, then bytes that are no deflate stream: the ingestion fails for good.
      await store.put(
        key,
        Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff]),
      );
      await client.submitRun({ uri: store.uri(key) }, { runId: 'broken-run' });
    } finally {
      await store.close();
    }
    const event = verified(await receiver.delivered('broken-run.run.failed'));
    expect(event.run).toMatchObject({ runId: 'broken-run', state: 'failed', reportUri: null });
    expect(event.run.failure).toMatch(/^ingestion failed/);
  });

  it('delivers an event that met a receiver down, after the producer that enqueued it stopped', async () => {
    await receiver.close();
    await client.submitRun({ items: makeItems(4) }, { runId: 'restart-run', chunkSize: 2 });
    const id = 'restart-run.run.completed';
    const job = webhookJobId(id, receiver.url('/all'));
    // Completed, and its delivery refused at least once: the event waits in Redis for a retry.
    await client.waitForRun('restart-run', { intervalMs: 50 });
    for (;;) {
      const attempts = (await webhooks.getJob(job))?.attemptsMade ?? 0;
      if (attempts >= 1) break;
      await sleep(50);
    }
    await fleet.producer.stop();
    ({ client } = await fleet.startProducer());
    await receiver.open();
    const event = verified(await receiver.delivered(id));
    expect(event.run).toMatchObject({ runId: 'restart-run', state: 'completed', counts: { items: 4 } });
    expect(receiver.of(id)).toHaveLength(1);
    expect((await client.getRun('restart-run')).state).toBe('completed');
  });
});
