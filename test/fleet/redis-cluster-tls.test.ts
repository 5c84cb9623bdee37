import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';
import { testCertificate, tlsRedisServer } from '../support/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';

const aclPassword = randomBytes(12).toString('hex');
const wrongPassword = randomBytes(12).toString('hex');

describe.skipIf(!tlsRedisServer())('a fleet on a Redis Cluster over TLS, as an ACL user', () => {
  let dir: string;
  let cluster: TestRedisCluster;
  let fleet: ProcessFleet;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-cluster-tls-'));
    const certificate = testCertificate(dir);
    // The user may touch only the fleet's keys: run state under phudge:, queues under {phudge}:.
    cluster = await startRedisCluster({
      tls: certificate,
      password: randomBytes(12).toString('hex'),
      user: { name: 'phudge', password: aclPassword, keys: ['~phudge:*', '~{phudge}:*'] },
    });
    fleet = await ProcessFleet.start({
      cluster,
      env: { PHUDGE_QUEUE_PREFIX: 'phudge', NODE_EXTRA_CA_CERTS: certificate.cert },
    });
    await fleet.startProducer();
    await fleet.startWorker();
  });
  afterAll(async () => {
    await fleet?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('grades a run end to end on the keys of its prefix only', async () => {
    expect(cluster.url).toMatch(/^rediss:\/\/phudge:[0-9a-f]+@127\.0\.0\.1:\d+,rediss:\/\/127\.0\.0\.1:\d+,/);
    const client = fleet.client();
    const { runId } = await client.submitRun({ items: makeItems(20) }, { chunkSize: 4 });
    const status = await client.waitForRun(runId, { intervalMs: 100, timeoutMs: 60_000 });
    expect(status).toMatchObject({ state: 'completed', total: 20, done: 20, errors: 0, chunks: 5 });
  });

  it('stops a producer and a worker on a wrong password, saying so without printing it', async () => {
    const env = { PHUDGE_REDIS_URL: cluster.url.replace(aclPassword, wrongPassword) };
    for (const start of [() => fleet.startProducer(env), () => fleet.startWorker(env)]) {
      const refused = await start().then(
        () => new Error('it started'),
        (error: Error) => error,
      );
      expect(refused.message).toContain('redis.url: Redis refused the credentials of PHUDGE_REDIS_URL');
      expect(refused.message).not.toContain(wrongPassword);
    }
  });
});
