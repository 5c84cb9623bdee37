import { type AbsoluteResult, bullConnection, isErrorResult, openStore, QUEUES, toJsonl } from '@phudge/core';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';

describe('a 2,000-item run over two worker processes', () => {
  let fleet: TestFleet;
  const items = makeItems(2000, 97);
  const bad = items.filter((item) => !('response' in (item as object))).length;
  const runId = 'run-2000';
  const chunkSize = 64;
  const chunks = Math.ceil(2000 / chunkSize);

  beforeAll(async () => {
    fleet = await TestFleet.start();
    await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    const store = openStore(fleet.config);
    await store.put('inputs/run-2000.jsonl', toJsonl(items));
    await store.close();
  });
  afterAll(() => fleet?.close());

  it('completes with every item graded exactly once, in input order', async () => {
    const { runId: id, created } = await fleet.client.submitRun(
      { uri: `s3://${fleet.s3.bucket}/fleet/inputs/run-2000.jsonl` },
      { runId, segments: ['shard'], chunkSize },
    );
    expect({ id, created }).toEqual({ id: runId, created: true });
    const status = await fleet.client.waitForRun(runId, { intervalMs: 200, timeoutMs: 240_000 });
    expect(status).toMatchObject({ state: 'completed', total: 2000, done: 2000, errors: bad, chunks });

    const stored = await fleet.storedResults(runId, chunks);
    expect(stored).toHaveLength(2000);
    const ids = stored.map((record) => (record as AbsoluteResult).id);
    expect(new Set(ids).size).toBe(2000);
    expect(ids).toEqual(items.map((item) => (item as { id: string }).id));

    const streamed = [];
    for await (const record of fleet.client.results(runId)) streamed.push(record);
    expect(streamed).toEqual(stored);
  });

  it('writes a summary whose counts match the results', async () => {
    const summary = await fleet.client.summary(runId);
    const stored = await fleet.storedResults(runId, chunks);
    const errors = stored.filter(isErrorResult);
    expect(summary).toMatchObject({
      runId,
      items: 2000,
      graded: 2000 - bad,
      errors: bad,
      chunks,
      chunksFailed: 0,
    });
    expect(errors.every((record) => record.error.code === 'invalid_input')).toBe(true);
    expect(Object.values(summary.histogram).reduce((a, b) => a + b, 0)).toBe(2000 - bad);
    const scores = stored.filter((r): r is AbsoluteResult => !isErrorResult(r)).map((r) => r.score);
    expect(summary.meanScore).toBeCloseTo(scores.reduce((a, b) => a + b, 0) / scores.length, 3);
    expect(Object.keys(summary.segments.shard ?? {}).sort()).toEqual(['s0', 's1', 's2']);
  });

  it('carried one results-queue message per chunk', async () => {
    const results = new Queue(QUEUES.results, {
      connection: bullConnection(fleet.config.redis.url, 'client'),
      prefix: fleet.config.queue.prefix,
    });
    try {
      const completed = await results.getCompleted(0, 10_000);
      const chunkMessages = completed.filter((job) => job.data.runId === runId && job.data.type === 'chunk');
      expect(chunkMessages).toHaveLength(chunks);
      expect(new Set(chunkMessages.map((job) => job.data.chunk)).size).toBe(chunks);
    } finally {
      await results.close();
    }
  });

  it('grades nothing again when the same runId is submitted twice', async () => {
    const chunkQueue = new Queue(QUEUES.chunks, {
      connection: bullConnection(fleet.config.redis.url, 'client'),
      prefix: fleet.config.queue.prefix,
    });
    try {
      const before = await chunkQueue.getJobCounts();
      const again = await fleet.client.submitRun(
        { uri: `s3://${fleet.s3.bucket}/fleet/inputs/run-2000.jsonl` },
        { runId, segments: ['shard'], chunkSize },
      );
      expect(again).toEqual({ runId, created: false });
      expect(await chunkQueue.getJobCounts()).toEqual(before);
      expect((await fleet.client.getRun(runId)).state).toBe('completed');
    } finally {
      await chunkQueue.close();
    }
  });

  it('refuses the same runId with another input', async () => {
    await expect(fleet.client.submitRun({ items: makeItems(3) }, { runId })).rejects.toMatchObject({
      status: 409,
    });
  });
});
