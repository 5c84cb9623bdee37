import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig, type ObjectStore, openStore, type PhudgeConfig } from '@phudge/core';
import { PhudgeClient } from '@phudge/sdk';
import { REPO_ROOT } from './paths.js';
import { startRedis, type TestRedis, type TestRedisOptions } from './redis.js';
import type { TestRedisCluster } from './redis-cluster.js';
import { TcpProxy } from './tcp-proxy.js';

const PHUDGE_BIN = `${REPO_ROOT}services/cli/bin/phudge.js`;
// The one s3rver process script: the one `phudge cluster` runs (built with the CLI).
const S3RVER_SERVER = `${REPO_ROOT}services/cli/dist/s3-server.js`;
const BUCKET = 'phudge';

/** A service of the fleet under test, as a process of its own that a test can kill. */
export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every line it printed (stdout and stderr), for assertions and for failure messages. */
  readonly logs: string[];
  /** Its HTTP port, where it has one. */
  port?: number;
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
}

/**
 * Spawns `node <args>` (never through npx: a signal must reach the program itself) and waits for
 * a line matching `ready`. @throws with its output when it exits first.
 */
export async function spawnService(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ service: ServiceProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream as NodeJS.ReadableStream }).on('line', (line) => {
        logs.push(line);
        const found = ready.exec(line);
        if (found) resolve(found);
      });
    }
    void exited.then((code) =>
      reject(new Error(`${name} exited with ${code} before it was ready:\n${logs.slice(-30).join('\n')}`)),
    );
  });
  return { service: { name, child, logs, exited }, match };
}

/** Sends a signal and waits for the process to be gone. @returns its exit code (null: killed). */
export async function killService(service: ServiceProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal);
  return service.exited;
}

/** s3rver in a process of its own: stopped and started again on the same port with the same data. */
export class S3Process {
  private service: ServiceProcess | undefined;
  private constructor(
    readonly dir: string,
    readonly port: number,
    first: ServiceProcess,
  ) {
    this.service = first;
  }

  static async start(): Promise<S3Process> {
    const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
    const { service, match } = await S3Process.spawn(dir, 0);
    return new S3Process(dir, Number(match[1]), service);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const running = this.service;
    this.service = undefined;
    if (running) await killService(running, signal);
  }

  async start(): Promise<void> {
    if (this.service) return;
    this.service = (await S3Process.spawn(this.dir, this.port)).service;
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private static spawn(dir: string, port: number) {
    // s3rver's paged ListObjectsV2 needs the legacy OpenSSL provider (its continuation tokens).
    return spawnService(
      's3rver',
      ['--openssl-legacy-provider', S3RVER_SERVER, dir, String(port), BUCKET],
      {},
      /^s3rver port (\d+)$/,
    );
  }
}

export interface ProcessFleetOptions {
  /** PHUDGE_* overrides for every service. */
  env?: Record<string, string>;
  redis?: TestRedisOptions;
  /** A Redis Cluster to run on instead of one redis-server of the fleet's own; the fleet closes it. */
  cluster?: TestRedisCluster;
}

/**
 * A whole fleet with every part as its own process, so that each can be killed: redis-server,
 * s3rver (reached by the services through a TCP proxy that can stall or reset), producers and
 * workers (`phudge producer`, `phudge worker`). The test process reads the store directly.
 */
export class ProcessFleet {
  readonly producers: ServiceProcess[] = [];
  readonly workers: ServiceProcess[] = [];
  /** What the test process reads the store and Redis with (S3 directly, not through the proxy). */
  readonly config: PhudgeConfig;

  private constructor(
    readonly redis: TestRedis,
    readonly s3: S3Process,
    readonly proxy: TcpProxy,
    readonly env: Record<string, string>,
    readonly token: string,
  ) {
    this.config = loadConfig({}, { ...env, PHUDGE_S3_ENDPOINT: s3.endpoint });
  }

  static async start(options: ProcessFleetOptions = {}): Promise<ProcessFleet> {
    const redis = options.cluster ?? (await startRedis(options.redis));
    const s3 = await S3Process.start();
    const proxy = await TcpProxy.start(s3.port);
    const token = randomBytes(12).toString('hex');
    const env: Record<string, string> = {
      PHUDGE_REDIS_URL: redis.url,
      ...options.cluster?.env,
      PHUDGE_STORE_URL: `s3://${BUCKET}/fleet`,
      PHUDGE_S3_ENDPOINT: proxy.url,
      PHUDGE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      PHUDGE_QUEUE_PREFIX: 'phudge',
      PHUDGE_API_TOKENS: token,
      PHUDGE_PORT: '0',
      PHUDGE_HOST: '127.0.0.1',
      PHUDGE_THREADS: '1',
      PHUDGE_LOG_LEVEL: 'info',
      // Short locks and retries, so that crash and outage tests take seconds, not minutes.
      PHUDGE_LOCK_DURATION_MS: '4000',
      PHUDGE_STALLED_INTERVAL_MS: '2000',
      PHUDGE_JOB_BACKOFF_MS: '300',
      ...options.env,
    };
    // The test process's own S3 client reads credentials from the standard variables.
    process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
    return new ProcessFleet(redis, s3, proxy, env, token);
  }

  /** Starts `phudge producer` and waits until it serves. */
  async startProducer(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const index = this.producers.length;
    const { service, match } = await spawnService(
      `producer-${index}`,
      [PHUDGE_BIN, 'producer'],
      { ...this.env, ...extraEnv },
      /"port":(\d+).*"producer running"|"producer running".*"port":(\d+)/,
    );
    service.port = Number(match[1] ?? match[2]);
    this.producers.push(service);
    return service;
  }

  /**
   * Starts `phudge worker` (or `command`, a script that runs a WorkerService, such as the
   * benchmarks' fixed-latency stand-in) and waits until it is warm and consuming.
   */
  async startWorker(
    extraEnv: Record<string, string> = {},
    command: string[] = [PHUDGE_BIN, 'worker'],
  ): Promise<ServiceProcess> {
    const index = this.workers.length;
    const { service } = await spawnService(
      `worker-${index}`,
      command,
      { ...this.env, ...extraEnv },
      /"worker running"/,
    );
    this.workers.push(service);
    return service;
  }

  /** A client of a producer that is still running (the first one, unless told). */
  client(producer?: ServiceProcess): PhudgeClient {
    const target =
      producer ?? this.producers.find((p) => p.child.exitCode === null && p.child.signalCode === null);
    if (!target?.port) throw new Error('no producer is running');
    return new PhudgeClient({ url: `http://127.0.0.1:${target.port}`, token: this.token });
  }

  /** The store as the services see it, read directly (never stalled by the proxy). */
  openStore(): ObjectStore {
    return openStore(this.config);
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers, ...this.producers].map((service) => killService(service, 'SIGKILL')));
    await this.proxy.close();
    await this.s3.close();
    await this.redis.close();
  }
}
