import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems } from '../support/fleet.js';
import { findOrSkip } from '../support/prerequisites.js';
import { ProcessFleet } from '../support/processes.js';

/** redis-server built with TLS (Debian's is), and openssl to make a certificate for it. */
function tlsRedis() {
  const openssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
  // A TLS build rejects these certificate files; one without TLS rejects the directive itself.
  const probe = spawnSync(
    'redis-server',
    ['--port', '0', '--tls-port', '1', '--tls-cert-file', '/nonexistent', '--tls-key-file', '/nonexistent'],
    { encoding: 'utf8', timeout: 5000 },
  );
  const tls = /Failed to configure TLS/.test(`${probe.stdout}${probe.stderr}`);
  return findOrSkip({
    what: 'redis-server with TLS support, and openssl',
    install: 'apt-get install -y redis-server openssl',
    found: openssl && tls ? 'redis-server' : undefined,
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!tlsRedis())('a fleet on Redis over TLS (rediss://) with a password', () => {
  let dir: string;
  let fleet: ProcessFleet;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    // A self-signed certificate for 127.0.0.1, its own CA: the services trust it through
    // NODE_EXTRA_CA_CERTS, as they would a private CA's.
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', cert].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]),
      { stdio: 'ignore' },
    );
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
