import { bullConnection, QUEUES, resultMessageSchema, runRedisKeys, toJsonl } from '@phudge/core';
import { RunStore } from '@phudge/producer';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { killService, ProcessFleet } from '../support/processes.js';
import { expectExactlyOnce, isFinished, waitForRun } from './chaos-support.js';

const CHUNK_SIZE = 8;
const CONCURRENCY = 4;
const WORKERS = 2;

describe('producer and collector faults, every part a process', { timeout: 150_000 }, () => {
  let fleet: ProcessFleet | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('a producer SIGKILLed mid-ingestion: the second replica resumes the ingestion by itself, 0 lost, 0 duplicated', async () => {
    const started = await ProcessFleet.start({
      env: {
        PHUDGE_WORKER_CONCURRENCY: String(CONCURRENCY),
        PHUDGE_MAX_QUEUE_DEPTH: '4',
        PHUDGE_INGEST_LEASE_MS: '2000',
        PHUDGE_RESUME_INTERVAL_MS: '500',
      },
    });
    fleet = started;
    const first = await fleet.startProducer();
    await fleet.startProducer();
    await Promise.all(Array.from({ length: WORKERS }, () => started.startWorker()));
    const items = makeItems(1600);
    const store = fleet.openStore();
    try {
      await store.put('inputs/replicas.jsonl', toJsonl(items));
      await fleet
        .client(first)
        .submitRun({ uri: store.uri('inputs/replicas.jsonl') }, { runId: 'replicas', chunkSize: CHUNK_SIZE });
    } finally {
      await store.close();
    }
    const during = await waitForRun(fleet, 'replicas', (status) => status.done >= 100);
    expect(during.total).toBeNull(); // still ingesting
    expect(await killService(first, 'SIGKILL')).toBeNull();
    // No resubmission: the other replica must find the run's lease gone and take it over.
    await expectExactlyOnce(fleet, 'replicas', items, 0);
  });

  it('results messages delivered twice are counted once', async () => {
    fleet = await ProcessFleet.start();
    const producer = await fleet.startProducer();
    const items = makeItems(200);
    await fleet.client().submitRun({ items }, { runId: 'twice', chunkSize: 20 });
    await waitForRun(fleet, 'twice', (status) => status.total !== null);
    // No collector from here on: the workers' messages wait in the results queue.
    await killService(producer, 'SIGKILL');
    await fleet.startWorker();
    const results = resultsQueue(fleet);
    try {
      const messages = await waitForChunkMessages(results, 10);
      // Delivered twice: each message again under another job id (as a redelivery would).
      await results.addBulk(
        messages.map((data, i) => ({ name: 'chunk', data, opts: { jobId: `again-${i}` } })),
      );
      await fleet.startProducer();
      const status = await waitForRun(fleet, 'twice', isFinished);
      expect(status).toMatchObject({ state: 'completed', total: 200, done: 200, chunksDone: 10 });
      const summary = await fleet.client().summary('twice');
      expect(summary.items).toBe(200);
    } finally {
      await results.close();
    }
    await expectExactlyOnce(fleet, 'twice', items, 0);
  });

  it('a collector killed between counting the last chunk and finishing: the next one finishes the run, counted once', async () => {
    fleet = await ProcessFleet.start();
    const producer = await fleet.startProducer();
    const items = makeItems(200);
    await fleet.client().submitRun({ items }, { runId: 'half-done', chunkSize: 20 });
    await waitForRun(fleet, 'half-done', (status) => status.total !== null);
    await killService(producer, 'SIGKILL');
    await fleet.startWorker();
    const results = resultsQueue(fleet);
    const redis = new Redis(fleet.config.redis.url);
    try {
      // What a collector that died after counting did: every chunk counted in Redis, no message
      // acked, the run not finished.
      const messages = await waitForChunkMessages(results, 10);
      const runs = new RunStore(redis, runRedisKeys(fleet.config));
      for (const message of messages) {
        if (message.type === 'chunk') await runs.applyChunk(message.runId, message.chunk, message.counters);
      }
      expect((await runs.get('half-done'))?.state).toBe('running');
      await fleet.startProducer();
      const status = await waitForRun(fleet, 'half-done', isFinished);
      expect(status).toMatchObject({ state: 'completed', total: 200, done: 200, chunksDone: 10 });
    } finally {
      redis.disconnect();
      await results.close();
    }
    await expectExactlyOnce(fleet, 'half-done', items, 0);
  });
});

function resultsQueue(fleet: ProcessFleet): Queue {
  return new Queue(QUEUES.results, {
    connection: bullConnection(fleet.config.redis.url, 'client'),
    prefix: fleet.config.queue.prefix,
  });
}

/** The chunk messages waiting in the results queue, once there are `count` of them. */
async function waitForChunkMessages(results: Queue, count: number) {
  for (;;) {
    const jobs = await results.getWaiting(0, -1);
    const messages = jobs.map((job) => resultMessageSchema.parse(job.data)).filter((m) => m.type === 'chunk');
    if (messages.length >= count) return messages;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
