// bench/million.mjs: a night-sized run (a million items of about 1 KB) through the fleet, every
// part a process of its own, to see what no test shows: the producer's memory as the run grows,
// Redis's peak, the collector's lag, what the store holds, and how fast the results stream back.
// Not part of npm test.
//
//   node bench/million.mjs [items=1000000] [--workers 4] [--ms-per-batch 100]
//
// One producer and `--workers` workers with the fixed-latency stand-in (`--ms-per-batch` per batch
// of 64, no CPU), redis-server and s3rver (the real S3 path; it holds a million items on disk).
// Prints a table and writes bench/results/million.json.
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { QUEUES } from '@phudge/core';
import { Redis } from 'ioredis';
import { register } from 'tsx/esm/api';
import { pandalmRequests, vicunaRequests } from './workloads.mjs';

// The tests' process harness (TypeScript) is the one harness: loaded through tsx.
register();
// As phudge.js does: the AWS SDK's warning about Node 20 says nothing about this benchmark.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { ProcessFleet } = await import('../test/support/processes.ts');

const STANDIN = fileURLToPath(new URL('./harness/standin-worker.mjs', import.meta.url));
const STANDIN_BATCH = 64;
const RUN_ID = 'million';
/** Where the producer's RSS is read a first time, to compare with the end. */
const EARLY_ITEMS = 100_000;
const TARGETS = { producer_rss_1m_over_100k: 1.2, redis_peak_mb: 64, results_lines_per_s: 50_000 };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workers: { type: 'string', default: '4' },
    'ms-per-batch': { type: 'string', default: '100' },
  },
});
const count = Number(positionals[0] ?? 1_000_000);
const workers = Number(values.workers);
const msPerBatch = Number(values['ms-per-batch']);
const say = (line) => process.stderr.write(`${line}\n`);

/**
 * Writes the input as JSONL without holding it: the benchmark sets' items in turn (PandaLM pairs,
 * with a Vicuna item every tenth line, about 1 KB a line on average), each under its own id.
 */
async function writeInput(path) {
  const pandalm = pandalmRequests();
  const vicuna = vicunaRequests();
  const out = createWriteStream(path);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const base = i % 10 === 9 ? vicuna[i % vicuna.length] : pandalm[i % pandalm.length];
    const line = `${JSON.stringify({ ...base, id: `item-${i}` })}\n`;
    bytes += line.length;
    if (!out.write(line)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
  return bytes;
}

/** Resident and peak resident memory of a process, in MB, from /proc. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Objects s3rver holds and their bytes, from its folder (each object is one `._S3rver_object` file). */
function storeContents(dir) {
  let objects = 0;
  let bytes = 0;
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('._S3rver_object')) {
        objects += 1;
        bytes += statSync(path).size;
      }
    }
  };
  walk(dir);
  return { objects, bytes };
}

/** Lines of the run's results, streamed from GET /v1/runs/:id/results and counted, not parsed. */
async function streamResults(apiUrl, token) {
  const started = performance.now();
  const response = await fetch(`${apiUrl}/v1/runs/${RUN_ID}/results`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok || !response.body) throw new Error(`GET results: ${response.status}`);
  let lines = 0;
  for await (const chunk of response.body) {
    for (const byte of chunk) if (byte === 10) lines += 1;
  }
  return { lines, seconds: (performance.now() - started) / 1000 };
}

const dir = await mkdtemp(join(tmpdir(), 'bench-million-'));
const input = join(dir, 'input.jsonl');
say(`million: writing ${count} items ...`);
const inputBytes = await writeInput(input);
say(`  ${(inputBytes / 2 ** 20).toFixed(0)} MB of JSONL`);

const fleet = await ProcessFleet.start({
  // Info logs: the harness knows a service is up by its "running" line.
  env: { PHUDGE_INPUT_ROOTS: dir, PHUDGE_WORKER_CONCURRENCY: '4' },
});
const redis = new Redis(fleet.redis.url);
let report;
try {
  const producer = await fleet.startProducer();
  await Promise.all(
    Array.from({ length: workers }, () => fleet.startWorker({}, [STANDIN, String(msPerBatch)])),
  );
  const client = fleet.client();
  const started = performance.now();
  await client.submitRun({ uri: pathToFileURL(input).href }, { runId: RUN_ID });
  say(`  submitted to ${workers} stand-in workers (${msPerBatch} ms per batch of ${STANDIN_BATCH})`);

  let earlyPeakMb;
  let redisPeakMb = 0;
  let resultsBacklog = 0;
  let workersDoneAt;
  let status;
  let lastShown = 0;
  for (;;) {
    status = await client.getRun(RUN_ID);
    const memory = memoryOf(producer.child.pid);
    if (earlyPeakMb === undefined && status.done >= Math.min(EARLY_ITEMS, count)) earlyPeakMb = memory.peakMb;
    const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;
    redisPeakMb = Math.max(redisPeakMb, used);
    const queue = await client.queue();
    // What the workers finished and the collector has not counted yet.
    const results = Number(await redis.llen(`${fleet.config.queue.prefix}:${QUEUES.results}:wait`));
    resultsBacklog = Math.max(resultsBacklog, results);
    if (workersDoneAt === undefined && status.total !== null && queue.pending === 0)
      workersDoneAt = performance.now();
    if (status.state === 'completed' || status.state === 'failed') break;
    if (performance.now() - lastShown > 10_000) {
      lastShown = performance.now();
      say(
        `  ${((lastShown - started) / 1000).toFixed(0)} s: ${status.done} done, producer ${memory.rssMb.toFixed(0)} MB, Redis ${used.toFixed(1)} MB`,
      );
    }
    await sleep(500);
  }
  const seconds = (performance.now() - started) / 1000;
  const finishedAt = performance.now();
  if (status.state !== 'completed') throw new Error(`the run ended ${status.state}: ${status.failure}`);
  const producerPeakMb = memoryOf(producer.child.pid).peakMb;
  const redisPeakInfo = Number(/used_memory_peak:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;
  const summary = await client.summary(RUN_ID);
  say('  streaming the results ...');
  const streamed = await streamResults(`http://127.0.0.1:${producer.port}`, fleet.token);
  const stored = storeContents(fleet.s3.dir);
  const idealSeconds = count / ((workers * STANDIN_BATCH * 1000) / msPerBatch);
  const figures = {
    wall_vs_ideal: seconds / idealSeconds,
    producer_rss_1m_over_100k: producerPeakMb / earlyPeakMb,
    redis_peak_mb: Math.max(redisPeakMb, redisPeakInfo),
    results_lines_per_s: streamed.lines / streamed.seconds,
    counts_match: summary.items === count && status.done === count && streamed.lines === count,
  };
  report = {
    items: count,
    workers,
    msPerBatch,
    inputMb: inputBytes / 2 ** 20,
    seconds,
    idealSeconds,
    producerPeakMbAt100k: earlyPeakMb,
    producerPeakMbAtEnd: producerPeakMb,
    resultsBacklogMax: resultsBacklog,
    collectorLagSeconds: workersDoneAt === undefined ? 0 : (finishedAt - workersDoneAt) / 1000,
    storeObjects: stored.objects,
    storeMb: stored.bytes / 2 ** 20,
    resultsStreamSeconds: streamed.seconds,
    summary: { items: summary.items, errors: summary.errors },
    figures,
    targets: TARGETS,
  };
} finally {
  redis.disconnect();
  await fleet.close();
  await rm(dir, { recursive: true, force: true });
}

const mb = (value) => `${value.toFixed(1)} MB`;
const rows = [
  ['items', String(report.items)],
  ['wall time (s)', report.seconds.toFixed(1)],
  ['stand-in ideal (s)', report.idealSeconds.toFixed(1)],
  ['wall / ideal', report.figures.wall_vs_ideal.toFixed(2)],
  ['producer peak RSS at 100k', mb(report.producerPeakMbAt100k)],
  ['producer peak RSS at the end', mb(report.producerPeakMbAtEnd)],
  ['  ratio (target <= 1.2)', report.figures.producer_rss_1m_over_100k.toFixed(2)],
  ['Redis peak used_memory (target <= 64)', mb(report.figures.redis_peak_mb)],
  ['results queue backlog, max (messages)', String(report.resultsBacklogMax)],
  ['collector lag after the last chunk (s)', report.collectorLagSeconds.toFixed(1)],
  ['store objects', String(report.storeObjects)],
  ['store bytes', mb(report.storeMb)],
  ['results stream (s)', report.resultsStreamSeconds.toFixed(1)],
  ['results lines/s (target >= 50,000)', report.figures.results_lines_per_s.toFixed(0)],
  ['summary counts match the input', String(report.figures.counts_match)],
];
const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, value] of rows) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
const out = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(`${out}million.json`, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.figures.counts_match ? 0 : 1);
