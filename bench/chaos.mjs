// bench/chaos.mjs: one nightly-sized run through a fleet whose parts are killed, stalled and
// restarted on a schedule, against the same run with no faults. Not part of npm test.
//
//   node bench/chaos.mjs [items=100000] [--seed N]
//
// Two producers, three workers with the fixed-latency stand-in (so that the figures are about
// coordination, not the model), redis-server with AOF and s3rver (behind a TCP proxy that can
// stall or reset the store's connections), each a process of its own. Prints a table: faults
// injected, items lost, result lines duplicated, items graded again, wall time against the
// fault-free run; writes bench/results/chaos.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bullConnection, QUEUES, resultMessageSchema, toJsonl } from '@phudge/core';
import { Queue } from 'bullmq';
import { register } from 'tsx/esm/api';
import { chatLogItems } from './workloads.mjs';

// The tests' process harness (TypeScript) is the one harness: loaded through tsx.
register();
// As phudge.js does: the AWS SDK's warning about Node 20 says nothing about this benchmark.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { ProcessFleet, killService } = await import('../test/support/processes.ts');
const { runAccounting } = await import('../test/support/accounting.ts');

const STANDIN = fileURLToPath(new URL('./harness/standin-worker.mjs', import.meta.url));
/** The stand-in's time per batch of up to 64: about 640 items/s a worker. */
const MS_PER_BATCH = 100;
const WORKERS = 3;
const PRODUCERS = 2;
const CHUNK_SIZE = 64;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seed: { type: 'string', default: '7' } },
});
const count = Number(positionals[0] ?? 100_000);
let seed = Number(values.seed);
/** A small seeded generator, so that a schedule can be replayed. */
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};

const FLEET_ENV = {
  PHUDGE_WORKER_CONCURRENCY: '4',
  // A short queue keeps ingestion going for most of the run, so that faults land in it too.
  PHUDGE_MAX_QUEUE_DEPTH: '40',
  PHUDGE_INGEST_LEASE_MS: '3000',
  PHUDGE_RECOVERY_INTERVAL_MS: '2000',
};

/** The faults, each with how often it is injected in one run. */
const FAULTS = [
  ['worker SIGKILL', 3, async (fleet) => replaceWorker(fleet, 'SIGKILL')],
  ['worker SIGTERM (drain)', 3, async (fleet) => replaceWorker(fleet, 'SIGTERM')],
  ['producer SIGKILL', 3, async (fleet) => replaceProducer(fleet)],
  [
    'store down 3 s',
    2,
    async (fleet) => {
      await fleet.s3.stop();
      await sleep(3000);
      await fleet.s3.start();
    },
  ],
  [
    'store silent 5 s',
    2,
    async (fleet) => {
      fleet.proxy.stall();
      await sleep(5000);
      fleet.proxy.heal();
    },
  ],
  ['store connections reset', 3, async (fleet) => fleet.proxy.reset()],
  [
    'Redis killed, restarted (AOF)',
    2,
    async (fleet) => {
      await fleet.redis.stop('SIGKILL');
      await fleet.redis.start();
    },
  ],
  ['Redis restarted empty', 1, async (fleet) => fleet.redis.restartEmpty()],
  ['results messages delivered twice', 3, async (fleet) => duplicateResultMessages(fleet)],
];

async function replaceWorker(fleet, signal) {
  const alive = fleet.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  const victim = alive[Math.floor(random() * alive.length)];
  await killService(victim, signal);
  await fleet.startWorker({}, [STANDIN, String(MS_PER_BATCH)]);
}

async function replaceProducer(fleet) {
  const alive = fleet.producers.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  await killService(alive[Math.floor(random() * alive.length)], 'SIGKILL');
  await fleet.startProducer();
}

/** Adds every waiting chunk message again under another job id, as a redelivery would. */
async function duplicateResultMessages(fleet) {
  const results = new Queue(QUEUES.results, {
    connection: bullConnection(fleet.config.redis.url, 'client'),
    prefix: fleet.config.queue.prefix,
  });
  try {
    const waiting = await results.getWaiting(0, 200);
    const copies = waiting
      .map((job) => ({ job, message: resultMessageSchema.safeParse(job.data) }))
      .filter(({ message }) => message.success && message.data.type === 'chunk')
      .map(({ job, message }) => ({ name: 'chunk', data: message.data, opts: { jobId: `again-${job.id}` } }));
    await results.addBulk(copies);
  } finally {
    await results.close();
  }
}

async function runOnce(items, withFaults) {
  const fleet = await ProcessFleet.start({ env: FLEET_ENV, redis: { persistence: 'aof' } });
  const injected = new Map();
  try {
    for (let i = 0; i < PRODUCERS; i++) await fleet.startProducer();
    await Promise.all(
      Array.from({ length: WORKERS }, () => fleet.startWorker({}, [STANDIN, String(MS_PER_BATCH)])),
    );
    const store = fleet.openStore();
    await store.put('inputs/chaos.jsonl', toJsonl(items));
    const uri = store.uri('inputs/chaos.jsonl');
    await store.close();

    const started = performance.now();
    const runId = withFaults ? 'chaos' : 'calm';
    await fleet.client().submitRun({ uri }, { runId, chunkSize: CHUNK_SIZE });
    const schedule = withFaults
      ? FAULTS.flatMap(([name, times, inject]) => Array.from({ length: times }, () => [name, inject])).sort(
          () => random() - 0.5,
        )
      : [];
    let status;
    let next = 0;
    let nextAt = performance.now() + 1500;
    for (;;) {
      status = await fleet
        .client()
        .getRun(runId)
        .catch(() => undefined);
      if (status && (status.state === 'completed' || status.state === 'failed')) break;
      if (next < schedule.length && performance.now() >= nextAt) {
        const [name, inject] = schedule[next++];
        process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(1)} s: ${name}\n`);
        await inject(fleet);
        injected.set(name, (injected.get(name) ?? 0) + 1);
        // Close enough that the whole schedule fits in a run of a minute or two.
        nextAt = performance.now() + 500 + random() * 1000;
      }
      await sleep(200);
    }
    const seconds = (performance.now() - started) / 1000;
    const reading = fleet.openStore();
    try {
      const accounting = await runAccounting(reading, runId);
      // Items the input has that never reached a chunk are lost too.
      accounting.lost += items.length - accounting.items;
      return { seconds, status, accounting, injected, leftOver: schedule.length - next };
    } finally {
      await reading.close();
    }
  } finally {
    await fleet.close();
  }
}

const items = chatLogItems(count);
process.stderr.write(`chaos: ${count} items, ${WORKERS} stand-in workers, ${PRODUCERS} producers\n`);
process.stderr.write('run without faults ...\n');
const calm = await runOnce(items, false);
process.stderr.write('run with faults ...\n');
const chaos = await runOnce(items, true);

const rows = [...chaos.injected.entries()].map(([fault, times]) => ({ fault, times }));
const table = [
  ['fault', 'injected'],
  ...rows.map((row) => [row.fault, String(row.times)]),
  ['', ''],
  ['run state', chaos.status.state + (chaos.status.failure ? ` (${chaos.status.failure})` : '')],
  ['items', String(count)],
  ['items lost', String(chaos.accounting.lost)],
  ['result lines duplicated', String(chaos.accounting.duplicates)],
  ['items graded again', String(chaos.accounting.regradedItems)],
  ['wall time with faults (s)', chaos.seconds.toFixed(1)],
  ['wall time without faults (s)', calm.seconds.toFixed(1)],
  ['with / without', (chaos.seconds / calm.seconds).toFixed(2)],
];
const width = Math.max(...table.map(([a]) => a.length));
for (const [a, b] of table) process.stdout.write(`${a.padEnd(width)}  ${b}\n`);

const out = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(
  `${out}chaos.json`,
  `${JSON.stringify(
    {
      items: count,
      faults: Object.fromEntries(chaos.injected),
      faultsNotInjected: chaos.leftOver,
      state: chaos.status.state,
      lost: chaos.accounting.lost,
      duplicated: chaos.accounting.duplicates,
      regraded: chaos.accounting.regradedItems,
      secondsWithFaults: chaos.seconds,
      secondsWithoutFaults: calm.seconds,
      calm: {
        lost: calm.accounting.lost,
        duplicated: calm.accounting.duplicates,
        regraded: calm.accounting.regradedItems,
      },
    },
    null,
    2,
  )}\n`,
);
process.exit(chaos.accounting.lost === 0 && chaos.accounting.duplicates === 0 ? 0 : 1);
