import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectRedis, formatLogLine, parseApiTokens, UnrecoverableError } from '@phudge/core';
import { BIN_PATH } from '../paths.js';

export const CLUSTER_USAGE = `Usage: phudge cluster [--workers N] [--port N] [--data DIR]

Starts a whole fleet on this machine for a demo: Redis (unless one answers on 127.0.0.1:6379),
an S3-compatible store (s3rver), the producer and N workers (default 2). Writes the variables a
client needs to DIR/cluster.env; Ctrl-C stops everything.`;

const REDIS_URL = 'redis://127.0.0.1:6379';
const BUCKET = 'phudge';

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      port: { type: 'string', default: '8080' },
      data: { type: 'string', default: 'phudge-cluster' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${CLUSTER_USAGE}\n`);
    return 0;
  }
  const data = resolve(values.data);
  await mkdir(join(data, 's3'), { recursive: true });
  const children: ChildProcess[] = [];

  const redis = await startRedisIfMissing();
  if (redis) children.push(redis);

  const s3 = await startS3Server(join(data, 's3'));
  children.push(s3.child);
  const s3Port = s3.port;

  // The user's PHUDGE_API_TOKENS if set (the client gets its first token that can submit and read),
  // else one random token with every scope.
  const apiTokens = process.env.PHUDGE_API_TOKENS || randomBytes(16).toString('hex');
  const token = parseApiTokens(apiTokens).find(
    (entry) => entry.scopes.includes('submit') && entry.scopes.includes('read'),
  )?.token;
  if (!token) throw new UnrecoverableError('api.tokens: PHUDGE_API_TOKENS has no token with submit and read');
  const fleetEnv = {
    PHUDGE_REDIS_URL: REDIS_URL,
    PHUDGE_STORE_URL: `s3://${BUCKET}/fleet`,
    PHUDGE_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    PHUDGE_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  const clientEnv = {
    ...fleetEnv,
    PHUDGE_API_URL: `http://127.0.0.1:${values.port}`,
    PHUDGE_API_TOKEN: token,
  };
  const envFile = join(data, 'cluster.env');
  await writeFile(
    envFile,
    Object.entries(clientEnv)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );

  children.push(
    startService('producer', ['producer'], {
      ...fleetEnv,
      PHUDGE_API_TOKENS: apiTokens,
      PHUDGE_PORT: values.port,
    }),
  );
  // Workers on one machine share its cores: more ORT threads than cores only adds contention.
  const threads =
    process.env.PHUDGE_THREADS ?? String(Math.max(1, Math.floor(cpus().length / Number(values.workers))));
  for (let i = 1; i <= Number(values.workers); i++) {
    children.push(
      startService(`worker-${i}`, ['worker'], { ...fleetEnv, PHUDGE_PORT: '0', PHUDGE_THREADS: threads }),
    );
  }

  process.stderr.write(
    `\nlocal PHUDGE cluster: producer on http://127.0.0.1:${values.port}, ${values.workers} workers, s3rver on ${s3Port}\n` +
      `in another shell:\n  set -a; . ${envFile}; set +a\n  npx phudge submit examples/chatlogs.jsonl --wait\n\n`,
  );
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stderr.write('stopping the cluster\n');
  for (const child of children.reverse()) child.kill('SIGTERM');
  await Promise.all(
    children.map((child) =>
      child.exitCode === null ? new Promise((r) => child.once('exit', r)) : undefined,
    ),
  );
  return 0;
}

/** A Redis that keeps nothing on disk, started only when none answers. */
async function startRedisIfMissing(): Promise<ChildProcess | undefined> {
  try {
    const client = await connectRedis(REDIS_URL, 'client');
    await client.quit();
    return undefined;
  } catch {}
  const redis = spawn('redis-server', ['--port', '6379', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await new Promise<void>((resolveSpawn, reject) => {
    redis.once('spawn', resolveSpawn);
    redis.once('error', () =>
      reject(
        new UnrecoverableError(
          'no Redis answers on 127.0.0.1:6379 and redis-server is not installed (apt-get install redis-server)',
        ),
      ),
    );
  });
  for (let i = 0; i < 50; i++) {
    try {
      const client = await connectRedis(REDIS_URL, 'client');
      await client.quit();
      return redis;
    } catch {
      await sleep(100);
    }
  }
  redis.kill();
  throw new UnrecoverableError('redis-server did not start');
}

function startService(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [BIN_PATH, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  // The services log JSON into this pipe; a person at the terminal reads them as lines under the
  // service's name, anything else gets the JSON as it came, tagged with the name.
  const forPeople = process.stderr.isTTY === true;
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) =>
      process.stderr.write(`${(forPeople && formatLogLine(line, name)) || `[${name}] ${line}`}\n`),
    );
  }
  return child;
}

/** s3rver in a child process with the legacy OpenSSL provider (see s3-server.ts), on a free port. */
async function startS3Server(directory: string): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('../s3-server.js', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, directory, '0', BUCKET], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const match = /^s3rver port (\d+)$/.exec(line);
      if (match) resolvePort(Number(match[1]));
    });
    child.once('exit', (code) =>
      reject(new UnrecoverableError(`s3rver exited with ${code} before it answered`)),
    );
  });
  return { child, port };
}
