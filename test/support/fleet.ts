import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import {
  createLogger,
  loadConfig,
  openStore,
  type PhudgeConfig,
  parseJsonl,
  type ResultRecord,
  runKeys,
} from '@phudge/core';
import { ProducerService } from '@phudge/producer';
import { PhudgeClient } from '@phudge/sdk';
import { REPO_ROOT } from './paths.js';
import { startRedis, type TestRedis, type TestRedisOptions } from './redis.js';
import { startS3rver, type TestS3 } from './s3rver.js';

const BIN = `${REPO_ROOT}services/cli/bin/phudge.js`;

/** A worker process of the fleet under test, with what it logged. */
export interface WorkerProcess {
  child: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
}

/**
 * A whole fleet for one test: a redis-server and an s3rver of its own (on ephemeral ports), the
 * producer in this process, workers as real child processes.
 */
export class TestFleet {
  readonly workers: WorkerProcess[] = [];
  private readonly replicas: ProducerService[] = [];
  private constructor(
    readonly redis: TestRedis,
    readonly s3: TestS3,
    readonly producer: ProducerService,
    readonly config: PhudgeConfig,
    readonly env: Record<string, string>,
    readonly client: PhudgeClient,
    readonly token: string,
  ) {}

  /**
   * @param overrides environment of the services. A `PHUDGE_API_TOKENS` there is added to the
   *   fleet's own token (every scope), which `client` sends.
   */
  static async start(
    overrides: Record<string, string> = {},
    redisOptions: TestRedisOptions = {},
  ): Promise<TestFleet> {
    const redis = await startRedis(redisOptions);
    const s3 = await startS3rver();
    const token = randomBytes(12).toString('hex');
    const env: Record<string, string> = {
      ...s3.env,
      PHUDGE_REDIS_URL: redis.url,
      PHUDGE_STORE_URL: `s3://${s3.bucket}/fleet`,
      PHUDGE_QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}`,
      PHUDGE_PORT: '0',
      PHUDGE_HOST: '127.0.0.1',
      PHUDGE_THREADS: '1',
      PHUDGE_LOG_LEVEL: 'warn',
      // Short locks and retries, so that crash and outage tests take seconds, not minutes.
      PHUDGE_LOCK_DURATION_MS: '4000',
      PHUDGE_STALLED_INTERVAL_MS: '2000',
      PHUDGE_JOB_BACKOFF_MS: '300',
      ...overrides,
      PHUDGE_API_TOKENS: [token, overrides.PHUDGE_API_TOKENS].filter(Boolean).join(','),
    };
    // The S3 client of this process reads credentials from the standard variables.
    process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
    const config = loadConfig({}, env);
    const producer = new ProducerService(config, createLogger('error', 'test-producer'));
    await producer.start();
    const client = new PhudgeClient({ url: `http://127.0.0.1:${producer.port}`, token });
    return new TestFleet(redis, s3, producer, config, env, client, token);
  }

  /** Starts another producer replica in this process, on the same Redis and store. */
  async startProducer(
    overrides: Record<string, string> = {},
  ): Promise<{ producer: ProducerService; client: PhudgeClient }> {
    const config = loadConfig({}, { ...this.env, ...overrides });
    const producer = new ProducerService(config, createLogger('error', 'test-producer'));
    await producer.start();
    this.replicas.push(producer);
    return {
      producer,
      client: new PhudgeClient({ url: `http://127.0.0.1:${producer.port}`, token: this.token }),
    };
  }

  /** Starts a worker process and waits until it is warm and consuming. */
  async startWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [BIN, 'worker'], {
      env: { ...process.env, ...this.env, PHUDGE_LOG_LEVEL: 'info', ...extraEnv },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const logs: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
        logs.push(line);
        if (line.includes('"worker running"')) resolve();
      });
      void exited.then((code) =>
        reject(new Error(`worker exited with ${code} before it was ready:\n${logs.join('\n')}`)),
      );
    });
    await ready;
    const worker = { child, logs, exited };
    this.workers.push(worker);
    return worker;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.producer.port}`;
  }

  /** Every result record of a run, read straight from the store, part by part. */
  async storedResults(runId: string, chunks: number): Promise<ResultRecord[]> {
    const records: ResultRecord[] = [];
    const store = openStore(this.config);
    try {
      for (let chunk = 0; chunk < chunks; chunk++) {
        records.push(...(parseJsonl(await store.get(runKeys.results(runId, chunk))) as ResultRecord[]));
      }
    } finally {
      await store.close();
    }
    return records;
  }

  async close(): Promise<void> {
    for (const worker of this.workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await Promise.all(this.workers.map((worker) => worker.exited));
    await Promise.all([this.producer, ...this.replicas].map((producer) => producer.stop()));
    await this.s3.close();
    await this.redis.close();
  }
}

/** `count` small grading requests, with a bad line every `badEvery` lines. */
export function makeItems(count: number, badEvery = 0): unknown[] {
  return Array.from({ length: count }, (_, i) => {
    if (badEvery > 0 && i % badEvery === badEvery - 1)
      return { id: `item-${i}`, instruction: 'no response here' };
    return {
      id: `item-${i}`,
      instruction: `Question ${i}: what is ${i} plus ${i}?`,
      response: `It is ${2 * i}.${' Indeed.'.repeat(i % 7)}`,
      metadata: { shard: `s${i % 3}` },
    };
  });
}
