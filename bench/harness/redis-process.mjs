// A redis-server of the benchmark's own, on a free port, without persistence: its CPU time and
// command counts (INFO) then belong to the benchmark alone, not to whatever else uses a shared Redis.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sums of INFO's CPU seconds (server and children, user and system) and of every command's calls. */
export function parseRedisCosts(info) {
  let cpuSeconds = 0;
  let commands = 0;
  for (const line of info.split('\r\n')) {
    const cpu = /^used_cpu_(sys|user):([\d.]+)$/.exec(line);
    if (cpu) cpuSeconds += Number(cpu[2]);
    const stat = /^cmdstat_[^:]+:calls=(\d+)/.exec(line);
    if (stat) commands += Number(stat[1]);
  }
  return { cpuSeconds, commands };
}

export async function startRedisServer() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = [];
  await new Promise((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot start redis-server (apt-get install redis-server): ${error.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output.join('')}`)));
    child.stdout.on('data', (data) => {
      output.push(data.toString());
      if (output.join('').includes('Ready to accept connections')) resolve();
    });
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url);
  return {
    url,
    /** CPU seconds and commands served so far (the INFO call itself included, one command). */
    async costs() {
      const [cpu, commandstats] = await Promise.all([client.info('cpu'), client.info('commandstats')]);
      return parseRedisCosts(`${cpu}\r\n${commandstats}`);
    },
    async usedMemory() {
      return Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
    },
    async stop() {
      client.disconnect();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
