// items/s of a 10,000-item run through the local cluster (Redis, s3rver, producer, two worker
// processes) against `phudge grade` on the same items with the same model in one process.
// Usage: node bench/fleet-vs-local.mjs [items]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gradeWithSummary, PHUDGE_BIN } from './harness/cli.mjs';

const count = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
const input = join(dir, 'items.jsonl');

// Chat-log-sized items (80-300 tokens): enough to measure coordination without hours of CPU model time.
const lines = [];
for (let i = 0; i < count; i++) {
  const words = 20 + ((i * 7919) % 120);
  lines.push(
    JSON.stringify({
      id: `item-${i}`,
      instruction: `Customer question ${i}: how do I change the billing address on my account?`,
      response: `Thanks for asking. ${'Open Settings, then Billing, and edit the address. '.repeat(Math.ceil(words / 9))}`,
      metadata: { channel: ['web', 'app', 'email'][i % 3] },
    }),
  );
}
writeFileSync(input, `${lines.join('\n')}\n`);

function local() {
  const started = performance.now();
  const report = gradeWithSummary(input, join(dir, 'local.jsonl'), join(dir, 'local-summary.json'));
  const wall = (performance.now() - started) / 1000;
  return { itemsPerSecond: report.itemsPerSecond, wallSeconds: wall };
}

async function fleet() {
  const data = join(dir, 'cluster');
  const cluster = spawn(
    process.execPath,
    [PHUDGE_BIN, 'cluster', '--data', data, '--port', '18181', '--workers', '2'],
    {
      env: { ...process.env, PHUDGE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  cluster.stderr.on('data', (piece) => {
    log += piece;
  });
  try {
    const deadline = Date.now() + 120_000;
    while ((log.match(/"worker running"/g) ?? []).length < 2 || !/"producer running"/.test(log)) {
      if (Date.now() > deadline || cluster.exitCode !== null)
        throw new Error(`cluster did not start:\n${log}`);
      await sleep(100);
    }
    const env = { ...process.env };
    for (const line of readFileSync(join(data, 'cluster.env'), 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    const runId = `bench-${Date.now()}`;
    const started = performance.now();
    const submit = spawnSync(process.execPath, [PHUDGE_BIN, 'submit', input, '--run-id', runId, '--wait'], {
      encoding: 'utf8',
      env,
    });
    const wall = (performance.now() - started) / 1000;
    if (submit.status !== 0) throw new Error(`submit failed: ${submit.stderr}`);
    const summary = JSON.parse(submit.stdout.slice(submit.stdout.indexOf('{')));
    if (summary.items !== count) throw new Error(`fleet graded ${summary.items} of ${count} items`);
    return { itemsPerSecond: count / wall, wallSeconds: wall };
  } finally {
    cluster.kill('SIGINT');
    await new Promise((resolve) => (cluster.exitCode === null ? cluster.once('exit', resolve) : resolve()));
  }
}

const localResult = local();
const fleetResult = await fleet();
rmSync(dir, { recursive: true, force: true });
console.table({
  'phudge grade (one process)': localResult,
  'local cluster (producer + 2 workers)': fleetResult,
});
console.log(
  JSON.stringify({
    items: count,
    localItemsPerSecond: Number(localResult.itemsPerSecond.toFixed(1)),
    fleetItemsPerSecond: Number(fleetResult.itemsPerSecond.toFixed(1)),
    fleetOverLocal: Number((fleetResult.itemsPerSecond / localResult.itemsPerSecond).toFixed(3)),
    machine: `${cpus().length} x ${cpus()[0]?.model}, node ${process.version}`,
  }),
);
