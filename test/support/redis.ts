import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { findOrSkip } from './prerequisites.js';

/** How a test's Redis keeps its data across a restart. */
export type RedisPersistence = 'none' | 'aof';

export interface TestRedisOptions {
  /** `aof`: every write is appended and fsynced, so a restart keeps the queues. @defaultValue 'none' */
  persistence?: RedisPersistence;
  /** More redis-server arguments (`['--requirepass', 'secret']`). */
  args?: string[];
  /** The password clients must send (it goes into `url`). */
  password?: string;
}

/**
 * A real redis-server of the test's own, as its own process on an ephemeral port, so that it can
 * be killed and restarted (on the same port, with the same data folder) and never touches a Redis
 * the user runs on 6379.
 */
export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server: SIGKILL loses what was not persisted, SIGTERM saves first. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port with the same data folder. */
  start(): Promise<void>;
  /** Kills it and starts it again with nothing: a Redis that lost everything (no persistence, a new node). */
  restartEmpty(): Promise<void>;
  /** Stops it and removes its data folder. */
  close(): Promise<void>;
}

const INSTALL_HINT =
  'redis-server is not installed: the fleet tests start their own. Install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS).';

/** @throws with the install command when there is no redis-server binary. */
export function redisServerBinary(): string {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return 'redis-server';
  } catch {
    throw new Error(INSTALL_HINT);
  }
}

/**
 * redis-server built with TLS (Debian's is), and openssl to make a certificate for it: the
 * binary's name, or undefined after one line saying what is missing (a failure under CI).
 */
export function tlsRedisServer(): string | undefined {
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

/**
 * A self-signed certificate for 127.0.0.1 in `dir`, its own CA: services trust it through
 * NODE_EXTRA_CA_CERTS, as they would a private CA's.
 */
export function testCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
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
  return { cert, key };
}

export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const binary = redisServerBinary();
  const dir = await mkdtemp(join(tmpdir(), 'redis-'));
  const port = await freePort();
  const persistence =
    options.persistence === 'aof'
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    ...persistence,
    ...(options.password ? ['--requirepass', options.password] : []),
    ...(options.args ?? []),
  ];
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const url = `redis://${auth}127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    const output: string[] = [];
    const process = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    process.stdout?.on('data', (data: Buffer) => output.push(data.toString()));
    process.stderr?.on('data', (data: Buffer) => output.push(data.toString()));
    child = process;
    await waitUntilAnswering(url, process, output);
  };
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL') => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    url,
    port,
    stop,
    start,
    restartEmpty: async () => {
      await stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await start();
    },
    close: async () => {
      await stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A port the OS says is free now (the server binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function waitUntilAnswering(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`redis-server exited with ${child.exitCode}:\n${output.join('')}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      // Loading an AOF: PING answers LOADING until the data is back.
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    await sleep(25);
  }
  throw new Error(`redis-server did not answer on ${url} within 10 s:\n${output.join('')}`);
}
