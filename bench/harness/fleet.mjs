// A fleet for benchmarks: a redis-server and s3rver of its own, each in its own process, the
// producer in this one, workers as child processes.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig, openStore } from '@phudge/core';
import { ProducerService } from '@phudge/producer';
import { PhudgeClient } from '@phudge/sdk';
import { PHUDGE_BIN } from './cli.mjs';
import { startRedisServer } from './redis-process.mjs';

const S3RVER = fileURLToPath(new URL('./s3rver-process.mjs', import.meta.url));

/** BENCH_CPU_PROF=DIR: every process the fleet starts writes a V8 CPU profile into DIR as it exits. */
const PROFILE_ARGS = process.env.BENCH_CPU_PROF
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
  : [];

function startProcess(args, env, readyPattern, { ipc = false } = {}) {
  const child = spawn(process.execPath, [...PROFILE_ARGS, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
  });
  const logs = [];
  const ready = new Promise((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        logs.push(line);
        const match = readyPattern.exec(line);
        if (match) resolve(match);
      });
    }
    child.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${logs.slice(-20).join('\n')}`)),
    );
  });
  return { child, ready, logs };
}

export class BenchFleet {
  static async start(overrides = {}) {
    const fleet = new BenchFleet();
    fleet.dir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
    fleet.redis = await startRedisServer();
    fleet.s3 = startProcess([S3RVER, join(fleet.dir, 's3')], {}, /^s3rver port (\d+)$/, { ipc: true });
    const port = (await fleet.s3.ready)[1];
    fleet.token = randomBytes(12).toString('hex');
    fleet.env = {
      PHUDGE_REDIS_URL: fleet.redis.url,
      PHUDGE_STORE_URL: 's3://phudge/bench',
      PHUDGE_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      PHUDGE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      PHUDGE_QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
      PHUDGE_API_TOKENS: fleet.token,
      // Benchmark inputs are written into the fleet's folder and read from there by file:// URI.
      PHUDGE_INPUT_ROOTS: fleet.dir,
      PHUDGE_PORT: '0',
      PHUDGE_HOST: '127.0.0.1',
      PHUDGE_LOG_LEVEL: 'warn',
      ...overrides,
    };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    fleet.config = loadConfig({}, fleet.env);
    fleet.producer = new ProducerService(fleet.config, createLogger('warn', 'bench-producer'));
    await fleet.producer.start();
    fleet.client = new PhudgeClient({ url: `http://127.0.0.1:${fleet.producer.port}`, token: fleet.token });
    fleet.workers = [];
    return fleet;
  }

  /** Starts worker processes: the real `phudge worker`, or a harness entry point (a stand-in engine). */
  async startWorkers(count, { entry = PHUDGE_BIN, args = ['worker'], env = {} } = {}) {
    const started = [];
    for (let i = 0; i < count; i++) {
      started.push(
        startProcess([entry, ...args], { ...this.env, PHUDGE_LOG_LEVEL: 'info', ...env }, /"worker running"/),
      );
    }
    this.workers.push(...started);
    await Promise.all(started.map((worker) => worker.ready));
  }

  /** Requests s3rver has served so far, by S3 operation class (PUT, GET, LIST, HEAD, POST, DELETE). */
  storeRequests() {
    return new Promise((resolve) => {
      this.s3.child.once('message', resolve);
      this.s3.child.send('requests');
    });
  }

  async upload(key, body) {
    const store = openStore(this.config);
    try {
      await store.put(key, body);
      return store.uri(key);
    } finally {
      await store.close();
    }
  }

  /** Submits a run and waits for its end: seconds from submission to completion. */
  async timeRun(input, options = {}, { intervalMs = 50 } = {}) {
    const started = performance.now();
    const { runId } = await this.client.submitRun(input, options);
    const status = await this.client.waitForRun(runId, { intervalMs });
    if (status.state !== 'completed')
      throw new Error(`run ${runId} ended ${status.state}: ${status.failure}`);
    return { seconds: (performance.now() - started) / 1000, status };
  }

  async close() {
    // A profiled worker must exit on its own to write its profile; otherwise nothing is left to wait for.
    const exits = this.workers.map((worker) => new Promise((resolve) => worker.child.once('exit', resolve)));
    for (const worker of this.workers) worker.child.kill(PROFILE_ARGS.length > 0 ? 'SIGTERM' : 'SIGKILL');
    await Promise.all(exits);
    await this.producer.stop();
    this.s3.child.kill('SIGTERM');
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
