import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AbsoluteResult, openStore, runKeys } from '@phudge/core';
import { API_ROUTES } from '@phudge/producer';
import { GradeTimeoutError, type PhudgeError } from '@phudge/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';

/** A token of each kind, by name. */
const TOKENS = {
  submitter: randomBytes(12).toString('hex'),
  reader: randomBytes(12).toString('hex'),
  grader: randomBytes(12).toString('hex'),
  metrics: randomBytes(12).toString('hex'),
};

describe('producer API and SDK', () => {
  let fleet: TestFleet;
  let base: string;
  let inputs: string;
  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'api-inputs-')));
    inputs = join(base, 'inputs');
    await mkdir(inputs);
    await mkdir(join(base, 'private'));
    await writeFile(join(base, 'private', 'key.jsonl'), '{"instruction":"secret","response":"secret"}\n');
    await writeFile(join(inputs, 'good.jsonl'), `${JSON.stringify(makeItems(1)[0])}\n`);
    await symlink(join(base, 'private', 'key.jsonl'), join(inputs, 'escape.jsonl'));
    fleet = await TestFleet.start({
      PHUDGE_API_TOKENS: [
        `submitter:submit:${TOKENS.submitter}`,
        `reader:read:${TOKENS.reader}`,
        `grader:submit+read:${TOKENS.grader}`,
      ].join(','),
      PHUDGE_API_METRICS_TOKEN: TOKENS.metrics,
      PHUDGE_INPUT_ROOTS: inputs,
    });
    await fleet.startWorker();
  });
  afterAll(async () => {
    await fleet?.close();
    await rm(base, { recursive: true, force: true });
  });

  async function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
    return fetch(`${fleet.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

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

  it('refuses a token of another length or one byte off with 401', async () => {
    for (const wrong of [`${fleet.token}x`, fleet.token.slice(0, -1), `${fleet.token.slice(0, -1)}0`]) {
      if (wrong === fleet.token) continue;
      expect((await call('GET', '/v1/queue', wrong)).status).toBe(401);
    }
  });

  describe('input confinement', () => {
    async function refusal(uri: string) {
      const response = await call('POST', '/v1/runs', fleet.token, { input: { uri } });
      expect(response.status).toBe(403);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe('input_forbidden');
      return body.message;
    }

    it('refuses file:///etc/passwd with 403, saying nothing of the file', async () => {
      const message = await refusal('file:///etc/passwd');
      expect(message).not.toContain('root:');
      expect(await refusal('file:///etc/no-such-file')).toBe(message.replace('passwd', 'no-such-file'));
    });

    it('refuses file:// paths that leave the roots with .. or a symlink', async () => {
      await refusal(`${pathToFileURL(inputs).href}/../private/key.jsonl`);
      await refusal(pathToFileURL(join(inputs, 'escape.jsonl')).href);
    });

    it('refuses a foreign bucket, and the store bucket outside its prefix', async () => {
      await refusal('s3://payroll/salaries.jsonl');
      await refusal(`s3://${fleet.s3.bucket}/elsewhere/logs.jsonl`);
    });

    it('grades a file under PHUDGE_INPUT_ROOTS', async () => {
      const { runId } = await fleet.client.submitRun({ uri: pathToFileURL(join(inputs, 'good.jsonl')).href });
      const status = await fleet.client.waitForRun(runId, { intervalMs: 100, timeoutMs: 60_000 });
      expect(status).toMatchObject({ state: 'completed', total: 1, errors: 0 });
    });
  });

  describe('token scopes', () => {
    const run = { input: { items: makeItems(1) } };
    const grade = { items: makeItems(1) };
    // Which tokens each route lets through: the rest get 403.
    const matrix: [string, string, unknown, (keyof typeof TOKENS)[]][] = [
      ['POST', '/v1/runs', run, ['submitter', 'grader']],
      ['GET', '/v1/runs/no-such-run', undefined, ['reader', 'grader']],
      ['GET', '/v1/runs/no-such-run/summary', undefined, ['reader', 'grader']],
      ['GET', '/v1/runs/no-such-run/results', undefined, ['reader', 'grader']],
      ['POST', '/v1/runs/no-such-run/cancel', undefined, ['submitter', 'grader']],
      ['POST', '/v1/grade', grade, ['grader']],
      ['GET', '/v1/queue', undefined, ['metrics']],
    ];

    it.each(matrix)('%s %s lets only its scopes through', async (method, path, body, allowed) => {
      for (const [name, token] of Object.entries(TOKENS)) {
        const response = await call(method, path, token, body);
        if (allowed.includes(name as keyof typeof TOKENS)) {
          expect([401, 403], `${name} on ${method} ${path}`).not.toContain(response.status);
        } else {
          expect(response.status, `${name} on ${method} ${path}`).toBe(403);
          expect(await response.json()).toMatchObject({ error: 'forbidden' });
        }
      }
    });

    it('lets a plain token in PHUDGE_API_TOKENS do everything, as before scopes', async () => {
      for (const [method, path, body] of matrix) {
        expect([401, 403]).not.toContain((await call(method, path, fleet.token, body)).status);
      }
    });
  });

  describe('OpenAPI document', () => {
    type Operation = {
      security: { bearer?: string[] }[];
      parameters?: { name: string; example?: string }[];
      requestBody?: { content: { 'application/json': { example?: unknown } } };
      responses: Record<string, unknown>;
      operationId: string;
    };
    let document: { openapi: string; paths: Record<string, Record<string, Operation>> };
    beforeAll(async () => {
      const response = await fetch(`${fleet.apiUrl}/openapi.json`);
      expect(response.status).toBe(200);
      document = (await response.json()) as typeof document;
    });
    const operations = () =>
      Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({
          path,
          method: method.toUpperCase(),
          operation,
        })),
      );

    it('is OpenAPI 3.1, served without a token', () => {
      expect(document.openapi).toBe('3.1.0');
    });

    it('describes every route the producer serves, and only those', () => {
      const served = fleet.producer.routes
        // fastify adds a HEAD route beside each GET one; the GET documents both. The admin pages
        // (Bull Board and its login form) are for people in a browser, not for API clients.
        .filter((route) => route.method !== 'HEAD' && !route.url.startsWith('/admin'))
        .map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
      const documented = operations().map(({ path, method }) => `${method} ${path}`);
      expect(served.length).toBeGreaterThan(8);
      expect([...documented].sort()).toEqual([...new Set(served)].sort());
    });

    it('gives each route its required scopes as a security requirement', () => {
      const security = Object.fromEntries(
        operations().map(({ path, method, operation }) => [`${method} ${path}`, operation.security]),
      );
      expect(security).toEqual({
        'POST /v1/runs': [{ bearer: ['submit'] }],
        'GET /v1/runs/{id}': [{ bearer: ['read'] }],
        'GET /v1/runs/{id}/summary': [{ bearer: ['read'] }],
        'GET /v1/runs/{id}/results': [{ bearer: ['read'] }],
        'POST /v1/runs/{id}/cancel': [{ bearer: ['submit'] }],
        'POST /v1/grade': [{ bearer: ['submit', 'read'] }],
        'GET /v1/queue': [{ bearer: ['metrics'] }],
        'GET /healthz': [],
        'GET /readyz': [],
        'GET /metrics': [],
        'GET /openapi.json': [],
      });
    });

    it('has examples that the route schemas accept and the server takes', async () => {
      for (const { path, method, operation } of operations()) {
        const body = operation.requestBody?.content['application/json'].example;
        const spec = Object.values(API_ROUTES).find((route) => route.operationId === operation.operationId);
        if (spec && 'body' in spec) {
          expect(body, `${method} ${path} has an example body`).toBeDefined();
          expect(spec.body.safeParse(body).success, `${method} ${path} example`).toBe(true);
        }
        let url = path;
        for (const parameter of operation.parameters ?? []) {
          expect(parameter.example, `${method} ${path} ${parameter.name}`).toBeDefined();
          url = url.replace(`{${parameter.name}}`, encodeURIComponent(parameter.example as string));
        }
        const response = await call(method, url, fleet.token, body);
        expect(response.status, `${method} ${url}`).not.toBe(400);
        expect(Object.keys(operation.responses), `${method} ${url}`).toContain(String(response.status));
      }
    });
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
    expect(error).toBeInstanceOf(GradeTimeoutError);
    expect(error).toMatchObject({ status: 504, code: 'timeout' });
    const { runId } = error as GradeTimeoutError;
    expect(
      (await fleet.client.waitForRun(runId as string, { intervalMs: 100, timeoutMs: 60_000 })).state,
    ).toBe('completed');
  });

  it('refuses more than 256 items on /v1/grade', async () => {
    await expect(fleet.client.grade(makeItems(257))).rejects.toMatchObject({ status: 400 });
  });

  it('says 400 with the reason for a bad body or an input that cannot be read', async () => {
    const bad = (await fleet.client.submitRun({ items: [] }).catch((e: unknown) => e)) as PhudgeError;
    expect(bad).toMatchObject({ status: 400 });
    expect(bad.message).toContain('input');
    const missing = (await fleet.client
      .submitRun({ uri: `s3://${fleet.s3.bucket}/fleet/nope.jsonl` })
      .catch((e: unknown) => e)) as PhudgeError;
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
