import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { freePort, redisServerBinary, type TestRedis } from './redis.js';

export interface TestRedisClusterOptions {
  /** Masters, each with an equal share of the 16384 slots (no replicas). @defaultValue 3 */
  nodes?: number;
  /** The default user's password on every node (clients send it; nodes send it to each other). */
  password?: string;
  /**
   * An ACL user with every command, whom clients connect as, on the keys of `keys` (ACL key
   * patterns, `~*` unless told).
   */
  user?: { name: string; password: string; keys?: string[] };
  /**
   * Nodes that speak only TLS, to clients and to each other, with this certificate (one the
   * clients trust, through NODE_EXTRA_CA_CERTS).
   */
  tls?: { cert: string; key: string };
}

/** One redis-server of the cluster: its client port and its data folder. */
export interface TestClusterNode {
  port: number;
  dir: string;
}

/**
 * A Redis Cluster of the test's own: redis-server processes on ephemeral ports, joined with
 * `redis-cli --cluster create` and ready (cluster_state:ok on every node) when it is returned.
 * As a {@link TestRedis}, `url` names every node (comma-separated), for PHUDGE_REDIS_URL with
 * PHUDGE_REDIS_CLUSTER=true (`env` holds both).
 */
export interface TestRedisCluster extends TestRedis {
  readonly nodes: TestClusterNode[];
  /** PHUDGE_REDIS_URL and PHUDGE_REDIS_CLUSTER for the services. */
  readonly env: Record<string, string>;
  /** A connection to one node alone (to ask it what it holds, as DBSIZE or CLUSTER KEYSLOT). */
  nodeClient(node: TestClusterNode): Promise<Redis>;
  /** A cluster client, as the services open one. */
  clusterClient(): Cluster;
}

const run = promisify(execFile);

/** redis-cli, installed beside redis-server (the same package). */
function redisCli(): string {
  redisServerBinary(); // the install hint when Redis is missing altogether
  return 'redis-cli';
}

export async function startRedisCluster(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
  const binary = redisServerBinary();
  const cli = redisCli();
  const root = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const nodes: TestClusterNode[] = [];
  // The cluster bus gets a port of its own: the default (client port + 10000) may be past 65535.
  const busPorts: number[] = [];
  for (let i = 0; i < (options.nodes ?? 3); i++) {
    nodes.push({ port: await freePort(), dir: join(root, `node-${i}`) });
    busPorts.push(await freePort());
  }
  const auth = authOptions(options);
  const children = new Map<TestClusterNode, ChildProcess>();

  const args = (node: TestClusterNode, i: number) => [
    ...(options.tls
      ? ['--port', '0', '--tls-port', String(node.port), '--tls-cert-file', options.tls.cert].concat([
          '--tls-key-file',
          options.tls.key,
          '--tls-ca-cert-file',
          options.tls.cert,
          '--tls-auth-clients',
          'no',
          '--tls-cluster',
          'yes',
        ])
      : ['--port', String(node.port)]),
    '--cluster-port',
    String(busPorts[i]),
    '--bind',
    '127.0.0.1',
    '--dir',
    node.dir,
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    '5000',
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory-policy',
    'noeviction',
    ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
    ...(options.user
      ? [
          '--user',
          options.user.name,
          'on',
          `>${options.user.password}`,
          ...(options.user.keys ?? ['~*']),
        ].concat(['&*', '+@all'])
      : []),
  ];

  const startNodes = async () => {
    await Promise.all(
      nodes.map(async (node, i) => {
        await mkdir(node.dir, { recursive: true });
        const output: string[] = [];
        const child = spawn(binary, args(node, i), { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout?.on('data', (data: Buffer) => output.push(data.toString()));
        child.stderr?.on('data', (data: Buffer) => output.push(data.toString()));
        children.set(node, child);
        await waitUntilAnswering(node, auth, child, output);
      }),
    );
  };
  const create = async () => {
    const cliAuth = [
      ...(options.user ? ['--user', options.user.name, '--pass', options.user.password] : []),
      ...(!options.user && options.password ? ['-a', options.password] : []),
      ...(options.tls ? ['--tls', '--cacert', options.tls.cert] : []),
      '--no-auth-warning',
    ];
    await run(cli, [
      ...cliAuth,
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
  };
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL') => {
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      }),
    );
    children.clear();
  };

  // Credentials on the first URL only: the services take them for every node.
  const url = nodes
    .map(
      (node, i) =>
        `${options.tls ? 'rediss' : 'redis'}://${i === 0 ? auth.credentials : ''}127.0.0.1:${node.port}`,
    )
    .join(',');
  const cluster: TestRedisCluster = {
    nodes,
    url,
    port: nodes[0]?.port ?? 0,
    env: { PHUDGE_REDIS_URL: url, PHUDGE_REDIS_CLUSTER: 'true' },
    stop,
    // Each node comes back with its nodes.conf: the cluster it was.
    start: async () => {
      await startNodes();
      await waitUntilClusterOk(nodes, auth);
    },
    restartEmpty: async () => {
      await stop('SIGKILL');
      for (const node of nodes) await rm(node.dir, { recursive: true, force: true });
      await startNodes();
      await create();
      await waitUntilClusterOk(nodes, auth);
    },
    close: async () => {
      await stop('SIGKILL');
      await rm(root, { recursive: true, force: true });
    },
    nodeClient: async (node) => {
      const client = new Redis({
        ...auth.redisOptions,
        host: '127.0.0.1',
        port: node.port,
        lazyConnect: true,
      });
      await client.connect();
      return client;
    },
    clusterClient: () =>
      new Cluster(
        nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
        { redisOptions: auth.redisOptions },
      ),
  };
  try {
    await startNodes();
    await create();
    await waitUntilClusterOk(nodes, auth);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}

interface ClientAuth {
  /** `user:password@` for a URL, or empty. */
  credentials: string;
  redisOptions: RedisOptions;
}

function authOptions(options: TestRedisClusterOptions): ClientAuth {
  // This process trusts the certificate itself (NODE_EXTRA_CA_CERTS is read only as Node starts).
  const tls = options.tls ? { tls: { ca: readFileSync(options.tls.cert) } } : {};
  if (options.user)
    return {
      credentials: `${encodeURIComponent(options.user.name)}:${encodeURIComponent(options.user.password)}@`,
      redisOptions: { username: options.user.name, password: options.user.password, ...tls },
    };
  if (options.password)
    return {
      credentials: `:${encodeURIComponent(options.password)}@`,
      redisOptions: { password: options.password, ...tls },
    };
  return { credentials: '', redisOptions: tls };
}

async function waitUntilAnswering(
  node: TestClusterNode,
  auth: ClientAuth,
  child: ChildProcess,
  output: string[],
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(
        `redis-server (cluster node ${node.port}) exited with ${child.exitCode}:\n${output.join('')}`,
      );
    if ((await ask(node, auth, (client) => client.ping())) === 'PONG') return;
    await sleep(25);
  }
  throw new Error(`cluster node ${node.port} did not answer within 10 s:\n${output.join('')}`);
}

/** Until every node says the cluster is whole: every slot served, every node known. */
async function waitUntilClusterOk(nodes: TestClusterNode[], auth: ClientAuth): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = '';
  while (Date.now() < deadline) {
    const infos = await Promise.all(nodes.map((node) => ask(node, auth, (client) => client.cluster('INFO'))));
    last = infos.map((info) => info ?? 'no answer').join('\n---\n');
    const whole = infos.every(
      (info) =>
        info?.includes('cluster_state:ok') &&
        info.includes('cluster_slots_assigned:16384') &&
        info.includes(`cluster_known_nodes:${nodes.length}`),
    );
    if (whole) return;
    await sleep(50);
  }
  throw new Error(`the test cluster did not reach cluster_state:ok within 20 s:\n${last}`);
}

/** One command to one node on a connection of its own; undefined when the node does not answer. */
async function ask<T>(
  node: TestClusterNode,
  auth: ClientAuth,
  command: (client: Redis) => Promise<T>,
): Promise<T | undefined> {
  const client = new Redis({
    ...auth.redisOptions,
    host: '127.0.0.1',
    port: node.port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await command(client);
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}
