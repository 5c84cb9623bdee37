import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhudgeClient } from '@phudge/sdk';
// @ts-expect-error s3rver ships no types: its account registry is where a key pair is added
import S3rverAccount from 's3rver/lib/models/account.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { REPO_ROOT } from '../support/paths.js';
import { killService, type ServiceProcess, spawnService } from '../support/processes.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startS3rver, type TestS3 } from '../support/s3rver.js';

const PHUDGE_BIN = `${REPO_ROOT}services/cli/bin/phudge.js`;

/** Runs `phudge <args>` to its end. @returns its exit code and everything it printed. */
async function runPhudge(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [PHUDGE_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: Buffer[] = [];
  child.stdout.on('data', (data: Buffer) => output.push(data));
  child.stderr.on('data', (data: Buffer) => output.push(data));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, output: Buffer.concat(output).toString() };
}

const secret = (label: string) => `${label}${randomBytes(12).toString('hex')}`;

/** Every secret the fleet holds; none may appear in anything it writes or answers. */
const SECRETS = {
  submitToken: secret('submit'),
  readToken: secret('read'),
  plainToken: secret('plain'),
  metricsToken: secret('metrics'),
  wrongToken: secret('wrong'),
  s3SecretKey: secret('s3key'),
  redisAclPassword: secret('redisacl'),
  redisDefaultPassword: secret('redisdefault'),
  wrongRedisPassword: secret('redisbad'),
  webhookSecret: secret('hooksecret'),
  /** A webhook URL's own token, as Slack's carry: its deliveries fail (nothing listens), and are logged. */
  webhookUrlToken: secret('hookurl'),
};
const ACCESS_KEY_ID = `AKIATEST${randomBytes(6).toString('hex').toUpperCase()}`;
const PREFIX = `secrets-${randomBytes(4).toString('hex')}`;

describe('a fleet with known secrets (scoped tokens, S3 keys, a Redis ACL user)', () => {
  let redis: TestRedis;
  let s3: TestS3;
  let dir: string;
  let env: Record<string, string>;
  let producer: ServiceProcess;
  let worker: ServiceProcess;
  let api: string;
  /** Everything observable: every process's output, every answer's body. */
  const observed: string[] = [];
  /** Board sessions the producer issued: secrets too, that no log may hold. */
  const sessions: string[] = [];

  beforeAll(async () => {
    redis = await startRedis({
      password: SECRETS.redisDefaultPassword,
      // An ACL user that may touch only the fleet's keys: the URL names it.
      args: ['--user', 'phudge', 'on', `>${SECRETS.redisAclPassword}`, `~${PREFIX}:*`, '&*', '+@all'],
    });
    s3 = await startS3rver();
    S3rverAccount.DUMMY_ACCOUNT.createKeyPair(ACCESS_KEY_ID, SECRETS.s3SecretKey);
    dir = await mkdtemp(join(tmpdir(), 'secrets-'));
    env = {
      ...s3.env,
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRETS.s3SecretKey,
      PHUDGE_REDIS_URL: `redis://phudge:${SECRETS.redisAclPassword}@127.0.0.1:${redis.port}`,
      PHUDGE_STORE_URL: `s3://${s3.bucket}/fleet`,
      PHUDGE_QUEUE_PREFIX: PREFIX,
      PHUDGE_API_TOKENS: `submitter:submit:${SECRETS.submitToken},reader:read:${SECRETS.readToken},${SECRETS.plainToken}`,
      PHUDGE_API_METRICS_TOKEN: SECRETS.metricsToken,
      PHUDGE_WEBHOOK_SECRET: SECRETS.webhookSecret,
      PHUDGE_WEBHOOK_URLS: `http://127.0.0.1:9/hooks/${SECRETS.webhookUrlToken}`,
      PHUDGE_WEBHOOK_BACKOFF_MS: '100',
      PHUDGE_HOST: '127.0.0.1',
      PHUDGE_PORT: '0',
      PHUDGE_THREADS: '1',
      // The most a service ever logs.
      PHUDGE_LOG_LEVEL: 'trace',
    };
    let match: RegExpExecArray;
    ({ service: producer, match } = await spawnService(
      'producer',
      [PHUDGE_BIN, 'producer'],
      env,
      /"port":(\d+).*"producer running"/,
    ));
    api = `http://127.0.0.1:${match[1]}`;
    ({ service: worker } = await spawnService('worker', [PHUDGE_BIN, 'worker'], env, /"worker running"/));
  });
  afterAll(async () => {
    for (const service of [worker, producer]) if (service) await killService(service, 'SIGTERM');
    await s3?.close();
    await redis?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, token?: string, body?: unknown): Promise<number> {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    observed.push(`${method} ${path} ${response.status} ${await response.text()}`);
    return response.status;
  }

  it('serves every route, failures included, over a Redis ACL user with a password', async () => {
    const run = { input: { items: makeItems(6) }, runId: 'secrets-run', segments: ['shard'] };
    expect(await call('POST', '/v1/runs', SECRETS.submitToken, run)).toBe(202);
    const reader = new PhudgeClient({ url: api, token: SECRETS.readToken });
    const status = await reader.waitForRun('secrets-run', { intervalMs: 100, timeoutMs: 60_000 });
    expect(status.state).toBe('completed');
    const expected: [string, string, string | undefined, unknown, number][] = [
      ['GET', '/v1/runs/secrets-run', SECRETS.readToken, undefined, 200],
      ['GET', '/v1/runs/secrets-run/summary', SECRETS.readToken, undefined, 200],
      ['GET', '/v1/runs/secrets-run/results', SECRETS.readToken, undefined, 200],
      ['POST', '/v1/grade', SECRETS.plainToken, { items: makeItems(2) }, 200],
      ['GET', '/v1/queue', SECRETS.metricsToken, undefined, 200],
      ['GET', '/healthz', undefined, undefined, 200],
      ['GET', '/readyz', undefined, undefined, 200],
      ['GET', '/metrics', undefined, undefined, 200],
      ['GET', '/openapi.json', undefined, undefined, 200],
      // 401: no token, a wrong one, a right one with a byte more.
      ['GET', '/v1/queue', undefined, undefined, 401],
      ['GET', '/v1/runs/secrets-run', SECRETS.wrongToken, undefined, 401],
      ['POST', '/v1/runs', `${SECRETS.submitToken}x`, run, 401],
      // 403: a scope missing, an input outside the allowed locations.
      ['POST', '/v1/runs', SECRETS.readToken, run, 403],
      ['GET', '/v1/runs/secrets-run/results', SECRETS.submitToken, undefined, 403],
      ['GET', '/v1/queue', SECRETS.readToken, undefined, 403],
      ['POST', '/v1/runs', SECRETS.submitToken, { input: { uri: 'file:///etc/passwd' } }, 403],
      ['POST', '/v1/runs', SECRETS.submitToken, { input: { uri: 's3://elsewhere/a.jsonl' } }, 403],
      // 404, 409, 400.
      ['GET', '/v1/runs/no-such-run', SECRETS.readToken, undefined, 404],
      ['GET', '/v1/no-such-route', SECRETS.readToken, undefined, 404],
      ['POST', '/v1/runs', SECRETS.submitToken, { ...run, input: { items: makeItems(7) } }, 409],
      ['POST', '/v1/runs', SECRETS.submitToken, { input: { items: [] } }, 400],
      [
        'POST',
        '/v1/runs',
        SECRETS.submitToken,
        { input: { uri: `s3://${s3.bucket}/fleet/missing.jsonl` } },
        400,
      ],
      ['POST', '/v1/grade', SECRETS.plainToken, { items: makeItems(300) }, 400],
    ];
    for (const [method, path, token, body, status] of expected) {
      expect(await call(method, path, token, body), `${method} ${path}`).toBe(status);
    }
  });

  it('runs the CLI against it: submit a local file (uploaded with the S3 keys), and a refused token', async () => {
    const input = join(dir, 'input.jsonl');
    await writeFile(
      input,
      `${makeItems(3)
        .map((item) => JSON.stringify(item))
        .join('\n')}\n`,
    );
    const client = { ...env, PHUDGE_API_URL: api, PHUDGE_API_TOKEN: SECRETS.plainToken };
    const submit = await runPhudge(['submit', input], client);
    expect(submit.code, submit.output).toBe(0);
    const refused = await runPhudge(['status', 'secrets-run'], {
      ...client,
      PHUDGE_API_TOKEN: SECRETS.wrongToken,
    });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('401');
    observed.push(submit.output, refused.output);
  });

  it('logs a read token in to the board, whose session then serves it', async () => {
    const login = await fetch(`${api}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: SECRETS.readToken }),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    const session = /^phudge_admin=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    expect(session).toBeDefined();
    sessions.push(session as string);
    const board = await fetch(`${api}/admin/queues/api/queues`, {
      headers: { cookie: `phudge_admin=${session}` },
    });
    expect(board.status).toBe(200);
    observed.push(await board.text());
    expect(await call('GET', '/admin/queues/api/queues', SECRETS.readToken)).toBe(200);
    expect(await call('GET', '/admin/queues/api/queues', SECRETS.submitToken)).toBe(403);
  });

  it('stops the producer and a worker on a wrong Redis password, saying so without printing it', async () => {
    const wrongUrl = `redis://phudge:${SECRETS.wrongRedisPassword}@127.0.0.1:${redis.port}`;
    for (const service of ['producer', 'worker']) {
      const wrong = await runPhudge([service], { ...env, PHUDGE_REDIS_URL: wrongUrl });
      expect(wrong.code, service).toBe(1);
      expect(wrong.output, service).toContain('redis.url: Redis refused the credentials');
      observed.push(wrong.output);
    }
  });

  it('names tokens in its request log, and no secret appears in any output or answer (a failed webhook delivery included)', async () => {
    observed.push(...producer.logs, ...worker.logs);
    const text = observed.join('\n');
    // The logs were captured and carry the request lines, by token name.
    for (const name of ['submitter', 'reader', 'token-3', 'metrics']) {
      expect(text).toContain(`"tokenName":"${name}"`);
    }
    expect(worker.logs.some((line) => line.includes('"worker running"'))).toBe(true);
    expect(text).toContain('"admin login"');
    // The finished run's webhook delivery failed and was logged, without its URL or the secret.
    expect(text).toContain('webhook delivery failed');
    const leaked = [...Object.entries(SECRETS), ...sessions.map((value) => ['session', value])].filter(
      ([, value]) => text.includes(value as string),
    );
    expect(leaked.map(([name]) => name)).toEqual([]);
  });
});
