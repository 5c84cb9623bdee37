import { type AbsoluteResult, openStore, runKeys } from '@phudge/core';
import { PhudgeApiError } from '@phudge/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';

describe('producer API and SDK', () => {
  let fleet: TestFleet;
  beforeAll(async () => {
    fleet = await TestFleet.start();
    await fleet.startWorker();
  });
  afterAll(() => fleet?.close());

  it.each([
    ['POST', '/v1/runs'],
    ['GET', '/v1/runs/anything'],
    ['GET', '/v1/runs/anything/results'],
    ['POST', '/v1/grade'],
    ['GET', '/v1/queue'],
  ])('answers %s %s without a valid token with 401', async (method, path) => {
    const none = await fetch(`${fleet.apiUrl}${path}`, { method });
    expect(none.status).toBe(401);
    const wrong = await fetch(`${fleet.apiUrl}${path}`, {
      method,
      headers: { authorization: 'Bearer not-the-token' },
    });
    expect(wrong.status).toBe(401);
  });

  it('serves health, readiness and metrics without a token', async () => {
    expect((await fetch(`${fleet.apiUrl}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${fleet.apiUrl}/readyz`)).json()).toEqual({ state: 'running' });
    const metrics = await (await fetch(`${fleet.apiUrl}/metrics`)).text();
    expect(metrics).toContain('phudge_queue_pending_chunks');
  });

  it('grades a few items synchronously with POST /v1/grade, in order', async () => {
    const items = makeItems(5);
    const { runId, results } = await fleet.client.grade(items, { rubric: 'helpfulness' });
    expect(runId).toBeTruthy();
    expect(results.map((r) => (r as AbsoluteResult).id)).toEqual(items.map((i) => (i as { id: string }).id));
    expect(results.every((r) => (r as AbsoluteResult).rubric === 'helpfulness')).toBe(true);
  });

  it('answers 504 with the runId to poll when grading outlasts the timeout', async () => {
    const error = await fleet.client.grade(makeItems(50), { timeoutMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhudgeApiError);
    expect(error).toMatchObject({ status: 504 });
    const { runId } = error as PhudgeApiError;
    expect(
      (await fleet.client.waitForRun(runId as string, { intervalMs: 100, timeoutMs: 60_000 })).state,
    ).toBe('completed');
  });

  it('refuses more than 256 items on /v1/grade', async () => {
    await expect(fleet.client.grade(makeItems(257))).rejects.toMatchObject({ status: 400 });
  });

  it('says 400 with the reason for a bad body or an input that cannot be read', async () => {
    const bad = (await fleet.client.submitRun({ items: [] }).catch((e: unknown) => e)) as PhudgeApiError;
    expect(bad).toMatchObject({ status: 400 });
    expect(bad.message).toContain('input');
    const missing = (await fleet.client
      .submitRun({ uri: `s3://${fleet.s3.bucket}/nope.jsonl` })
      .catch((e: unknown) => e)) as PhudgeApiError;
    expect(missing).toMatchObject({ status: 400 });
    expect(missing.message).toContain('cannot read input');
    await expect(fleet.client.submitRun({ items: makeItems(1) }, { runId: 'bad id!' })).rejects.toMatchObject(
      { status: 400 },
    );
  });

  it('says 404 for an unknown run', async () => {
    await expect(fleet.client.getRun('no-such-run')).rejects.toMatchObject({ status: 404 });
  });

  it('writes each finished run a report, compared with the previous run of the same name', async () => {
    const first = await fleet.client.submitRun({ items: makeItems(30) }, { name: 'nightly' });
    await fleet.client.waitForRun(first.runId, { intervalMs: 100, timeoutMs: 60_000 });
    const second = await fleet.client.submitRun({ items: makeItems(31) }, { name: 'nightly' });
    const status = await fleet.client.waitForRun(second.runId, { intervalMs: 100, timeoutMs: 60_000 });
    const store = openStore(fleet.config);
    try {
      const firstReport = (await store.get(runKeys.report(first.runId))).toString();
      const secondReport = (await store.get(runKeys.report(second.runId))).toString();
      expect(firstReport).toContain('No baseline to compare with.');
      expect(secondReport).toMatch(/No change against the baseline|than the baseline|distribution shifted/);
      expect(secondReport).toContain(`nightly (${second.runId})`);
      expect(status.reportUri).toBe(store.uri(runKeys.report(second.runId)));
    } finally {
      await store.close();
    }
  });

  it('reports queue depth for autoscalers', async () => {
    const queue = await fleet.client.queue();
    expect(queue).toHaveProperty('pending');
    expect(queue.pending).toBe(
      (queue.waiting ?? 0) + (queue.prioritized ?? 0) + (queue.delayed ?? 0) + (queue.active ?? 0),
    );
  });
});
