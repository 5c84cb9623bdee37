import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { ProcessFleet } from '../support/processes.js';
import { freePort, testCertificate, tlsRedisServer } from '../support/redis.js';

describe.skipIf(!tlsRedisServer())('a fleet on Redis over TLS (rediss://) with a password', () => {
  let dir: string;
  let fleet: ProcessFleet;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-tls-'));
    const { cert, key } = testCertificate(dir);
    const tlsPort = await freePort();
    const password = randomBytes(12).toString('hex');
    fleet = await ProcessFleet.start({
      redis: {
        password,
        args: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key].concat([
          '--tls-ca-cert-file',
          cert,
          '--tls-auth-clients',
          'no',
        ]),
      },
      env: {
        PHUDGE_REDIS_URL: `rediss://:${password}@127.0.0.1:${tlsPort}`,
        NODE_EXTRA_CA_CERTS: cert,
      },
    });
    await fleet.startProducer();
    await fleet.startWorker();
  });
  afterAll(async () => {
    await fleet?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('grades a run end to end', async () => {
    const client = fleet.client();
    const { runId } = await client.submitRun({ items: makeItems(5) });
    const status = await client.waitForRun(runId, { intervalMs: 100, timeoutMs: 60_000 });
    expect(status).toMatchObject({ state: 'completed', total: 5, done: 5 });
  });
});
