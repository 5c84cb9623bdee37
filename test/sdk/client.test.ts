import { createServer } from 'node:net';
import type { AbsoluteResult } from '@phudge/core';
import {
  AbortedError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  ConnectionTimeoutError,
  NotFoundError,
  PermissionDeniedError,
  PhudgeClient,
  PhudgeError,
  RateLimitError,
  type RetryInfo,
  type RunStatus,
  ServerError,
  WaitTimeoutError,
} from '@phudge/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';
import { HttpProxy } from '../support/http-proxy.js';

/** A token with the `metrics` scope only: it may read the queue, not submit or read runs. */
const METRICS_TOKEN = 'metrics-only-token-for-the-sdk-test';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Runs the producer has created so far (its own counter, so a duplicate run cannot hide). */
async function runsSubmitted(fleet: TestFleet): Promise<number> {
  const metrics = await (await fetch(`${fleet.apiUrl}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('phudge_runs_submitted_total'));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the SDK against a real producer behind a faulty proxy', () => {
  let fleet: TestFleet;
  let proxy: HttpProxy;
  let client: PhudgeClient;
  beforeAll(async () => {
    fleet = await TestFleet.start({ PHUDGE_API_METRICS_TOKEN: METRICS_TOKEN });
    proxy = await HttpProxy.start(fleet.producer.port as number);
    client = new PhudgeClient({ url: proxy.url, token: fleet.token });
  });
  afterAll(async () => {
    await proxy?.close();
    await fleet?.close();
  });

  describe('with no worker (runs stay queued)', () => {
    it('retries a 503 from the proxy and the call succeeds', async () => {
      const seen = proxy.requests('GET', '/v1/queue').length;
      proxy.inject({ answer: 503 });
      const queue = await client.queue();
      expect(queue).toHaveProperty('pending');
      expect(proxy.requests('GET', '/v1/queue').length - seen).toBe(2);
    });

    it('waits for the Retry-After of a 429 before retrying, and the call succeeds', async () => {
      proxy.inject({ answer: 429, headers: { 'retry-after': '1' } });
      const started = performance.now();
      await client.queue();
      // The first backoff is at most 500 ms: waiting a second is the server's Retry-After.
      expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    });

    it('makes exactly one run of a submit retried after its response was lost', async () => {
      const before = await runsSubmitted(fleet);
      const seen = proxy.requests('POST', '/v1/runs').length;
      proxy.inject({ dropResponse: true });
      const { runId, created } = await client.submitRun({ items: makeItems(3) });
      const posts = proxy.requests('POST', '/v1/runs').slice(seen);
      expect(posts).toHaveLength(2); // the producer saw the submit twice...
      expect(new Set(posts.map((post) => JSON.parse(post.body).runId))).toEqual(new Set([runId]));
      expect(await runsSubmitted(fleet)).toBe(before + 1); // ...and made one run
      expect(created).toBe(true); // this call made it, though the answer that said so was lost
      expect(runId).toMatch(UUID);
      expect((await client.getRun(runId)).total).toBe(3);
    });

    it("refuses an answer that does not match the API's contract, without retrying", async () => {
      const seen = proxy.requests('GET', '/v1/runs/odd').length;
      proxy.inject({ answer: 200, body: JSON.stringify({ runId: 'odd', state: 'lost' }) });
      const error = await client.getRun('odd').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PhudgeError);
      expect(error).toMatchObject({ code: 'bad_response', status: undefined });
      expect((error as Error).message).toContain('state');
      expect(proxy.requests('GET', '/v1/runs/odd').length - seen).toBe(1);
    });

    it('throws the last error once maxRetries retries are spent', async () => {
      const seen = proxy.requests('GET', '/v1/queue').length;
      proxy.inject({ answer: 502 }, { answer: 503 }, { answer: 500 });
      const error = await client.queue().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ status: 500, code: 'proxy' });
      expect(proxy.requests('GET', '/v1/queue').length - seen).toBe(3); // the first try and 2 retries
    });

    it('throws a ConnectionError when nothing answers, after its retries', async () => {
      const nowhere = new PhudgeClient({ url: `http://127.0.0.1:${await closedPort()}`, token: 'x' });
      const error = await nowhere.queue({ maxRetries: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toBeInstanceOf(PhudgeError);
      expect((error as ConnectionError).message).toContain('ECONNREFUSED');
    });

    it('throws a ConnectionTimeoutError when an answer takes longer than timeoutMs', async () => {
      let release = () => {};
      proxy.inject({ holdBodyAfter: 0, release: new Promise<void>((resolve) => (release = resolve)) });
      try {
        const error = await client.queue({ timeoutMs: 200, maxRetries: 0 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConnectionTimeoutError);
        expect(error).toMatchObject({ code: 'timeout', status: undefined });
      } finally {
        release();
      }
    });

    it("stops at once when the caller's signal aborts, even during a long Retry-After", async () => {
      const controller = new AbortController();
      const retries: RetryInfo[] = [];
      const patient = new PhudgeClient({
        url: proxy.url,
        token: fleet.token,
        // Aborts once the wait has begun (the SDK sleeps right after telling onRetry).
        onRetry: (retry) => {
          retries.push(retry);
          setImmediate(() => controller.abort(new Error('the caller gave up')));
        },
      });
      proxy.inject({ answer: 503, headers: { 'retry-after': '30' } });
      const started = performance.now();
      const error = await patient.queue({ signal: controller.signal }).catch((e: unknown) => e);
      expect(retries).toMatchObject([{ retry: 1, delayMs: 30_000, error: { status: 503 } }]);
      expect(error).toBeInstanceOf(AbortedError);
      expect((error as AbortedError).cause).toEqual(new Error('the caller gave up'));
      expect(performance.now() - started).toBeLessThan(5000);
      // An already aborted signal sends nothing.
      const seen = proxy.seen.length;
      await expect(client.queue({ signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
      expect(proxy.seen.length).toBe(seen);
    });

    it('aborts a request in flight', async () => {
      const controller = new AbortController();
      let release = () => {};
      proxy.inject({ holdBodyAfter: 0, release: new Promise<void>((resolve) => (release = resolve)) });
      try {
        const started = performance.now();
        const call = client.queue({ signal: controller.signal }).catch((e: unknown) => e);
        await proxy.forwarded();
        controller.abort();
        expect(await call).toBeInstanceOf(AbortedError);
        expect(performance.now() - started).toBeLessThan(5000); // not its 30 s timeout
      } finally {
        release();
      }
    });

    it('throws an error class per status, with the code and request id, without retrying', async () => {
      const wrongToken = new PhudgeClient({ url: proxy.url, token: 'not-the-token' });
      const metricsOnly = new PhudgeClient({ url: proxy.url, token: METRICS_TOKEN });
      const seen = proxy.seen.length;
      const cases: [() => Promise<unknown>, new (...args: never[]) => PhudgeError, number, string][] = [
        [() => wrongToken.queue(), AuthenticationError, 401, 'unauthorized'],
        [() => metricsOnly.getRun('any-run'), PermissionDeniedError, 403, 'forbidden'],
        [() => client.getRun('no-such-run'), NotFoundError, 404, 'not_found'],
        [() => client.submitRun({ items: [] }), BadRequestError, 400, 'bad_request'],
      ];
      for (const [call, type, status, code] of cases) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(type);
        expect(error).toBeInstanceOf(PhudgeError);
        expect(error).toMatchObject({ status, code });
        expect((error as PhudgeError).requestId).toMatch(UUID);
      }
      expect(proxy.seen.length - seen).toBe(cases.length);
    });

    it('throws ConflictError for a runId reused with another input', async () => {
      await client.submitRun({ items: makeItems(2) }, { runId: 'taken' });
      const again = await client.submitRun({ items: makeItems(2) }, { runId: 'taken' });
      expect(again).toEqual({ runId: 'taken', created: false });
      const error = await client.submitRun({ items: makeItems(4) }, { runId: 'taken' }).catch((e) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ status: 409, code: 'conflict' });
    });

    it('throws RateLimitError for a 429 past its retries', async () => {
      proxy.inject({ answer: 429 });
      await expect(client.queue({ maxRetries: 0 })).rejects.toBeInstanceOf(RateLimitError);
    });

    it('ends waitForRun at its timeout with the last status seen', async () => {
      const { runId } = await client.submitRun({ items: makeItems(2) });
      const error = await client.waitForRun(runId, { intervalMs: 50, timeoutMs: 300 }).catch((e) => e);
      expect(error).toBeInstanceOf(WaitTimeoutError);
      expect(error).toMatchObject({ runId, code: 'wait_timeout' });
      expect((error as WaitTimeoutError<RunStatus>).lastStatus?.state).toBe('queued');
    });
  });

  describe('with a worker', () => {
    beforeAll(() => fleet.startWorker());

    it('waits for a run, telling each status to onProgress', async () => {
      const { runId } = await client.submitRun({ items: makeItems(40) }, { chunkSize: 8 });
      const seen: RunStatus[] = [];
      const status = await client.waitForRun(runId, { intervalMs: 20, onProgress: (s) => seen.push(s) });
      expect(status).toMatchObject({ state: 'completed', done: 40 });
      expect(seen.at(-1)).toEqual(status);
      expect(seen.map((s) => s.done)).toEqual([...seen.map((s) => s.done)].sort((a, b) => a - b));
    });

    it('streams results: the first record arrives before the rest of the body', async () => {
      const items = makeItems(30);
      const { runId } = await client.submitRun({ items }, { chunkSize: 5 });
      await client.waitForRun(runId, { intervalMs: 50 });
      const body = await (
        await fetch(`${fleet.apiUrl}/v1/runs/${runId}/results`, {
          headers: { authorization: `Bearer ${fleet.token}` },
        })
      ).text();
      const firstLine = body.indexOf('\n') + 1;
      let release = () => {};
      proxy.inject({
        holdBodyAfter: firstLine,
        release: new Promise<void>((resolve) => (release = resolve)),
      });
      const results = client.results(runId);
      // Resolves while the proxy holds all but the first line: the SDK does not wait for the whole body.
      const first = await results.next();
      expect((first.value as AbsoluteResult).id).toBe('item-0');
      release();
      const ids = [(first.value as AbsoluteResult).id];
      for await (const record of results) ids.push((record as AbsoluteResult).id);
      expect(ids).toEqual(items.map((item) => (item as { id: string }).id));
    });
  });
});
