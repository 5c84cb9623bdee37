// Per-item costs of coordinating a run, from each process's own CPU time, so that the figures hold
// on any machine (a rate on a 2-core box measures its cores): one run of chat-log items through
// the producer (with its collector, in this process), stand-in workers (child processes whose
// judge is the fixed-latency stand-in: no tokenizing, no model, so all their CPU is coordination),
// a redis-server and s3rver of the fleet's own.
//   coordination_cpu_us_per_item   producer + collector + workers, per item
//   coordination_vs_tokenizer      that over the tokenizer's CPU per item on the same items
//   redis_cpu_us_per_item, redis_commands_per_item   from INFO (used_cpu_*, commandstats)
//   gpu_workers_per_redis_core     GPU workers (160 items/s each) one Redis core can serve
//   store_requests_per_item        every request s3rver served during the run
import { fileURLToPath } from 'node:url';
import { parseGradingRequest, toJsonl } from '@phudge/core';
import {
  buildPromptFields,
  createSanitizer,
  JudgeTokenizer,
  loadBundle,
  promptRenderer,
} from '@phudge/judge';
import { BenchFleet } from '../harness/fleet.mjs';
import { cpuMs, median, processCpuMs } from '../harness/stats.mjs';
import { chatLogItems } from '../workloads.mjs';

const STANDIN = fileURLToPath(new URL('../harness/standin-worker.mjs', import.meta.url));
const TOKENIZER_BUNDLE = fileURLToPath(new URL('../../models/tiny-judge', import.meta.url));
// A short stand-in batch keeps the run brief; per-item costs do not depend on it.
const MS_PER_BATCH = 100;
// Phi-3-mini at full MFU on one H100 (issue 16): ~6 TFLOP per 800-token item, 989 TFLOP/s.
const GPU_WORKER_ITEMS_PER_S = 160;
// Items whose prompts the tokenizer figure encodes: enough for a stable per-item CPU, in seconds.
const TOKENIZER_ITEMS = 4000;

export async function costFigures({ items: count = 20_000, workers = 4, repetitions = 3 } = {}) {
  const items = chatLogItems(count);
  const tokenizer = await tokenizerOf(items);
  // The tokenizer is measured before the fleet starts and again after it stops, the figure taking
  // the median of all repetitions: measured at one moment only, on a machine whose other load
  // changes, its CPU per item (the ratio's denominator) swung by a third from run to run.
  const tokenizerRuns = await tokenizer.measure(repetitions);
  const fleet = await BenchFleet.start({ PHUDGE_WORKER_CONCURRENCY: '4', PHUDGE_MAX_QUEUE_DEPTH: '100000' });
  let run;
  try {
    await fleet.startWorkers(workers, { entry: STANDIN, args: [String(MS_PER_BATCH)] });
    const pids = fleet.workers.map((worker) => worker.child.pid);
    // A warm-up run, so that the figures are the steady state, not module loading and JIT.
    await fleet.timeRun({ uri: await fleet.upload('inputs/warm.jsonl', toJsonl(items.slice(0, 1280))) });
    const uri = await fleet.upload('inputs/costs.jsonl', toJsonl(items));

    const before = await snapshot(fleet, pids);
    // Polled seldom: each poll costs the producer (this process) CPU that is the benchmark's, not the fleet's.
    const { seconds } = await fleet.timeRun({ uri }, {}, { intervalMs: 500 });
    run = { before, after: await snapshot(fleet, pids), seconds };
  } finally {
    await fleet.close();
  }
  tokenizerRuns.push(...(await tokenizer.measure(repetitions)));
  const tokenizerUs = median(tokenizerRuns);

  const { before, after, seconds } = run;
  const perItem = (value) => value / count;
  const producerUs = perItem((after.producerMs - before.producerMs) * 1000);
  const workersUs = perItem((after.workersMs - before.workersMs) * 1000);
  const redisUs = perItem((after.redis.cpuSeconds - before.redis.cpuSeconds) * 1e6);
  const requests = Object.fromEntries(
    Object.entries(after.store).map(([kind, n]) => [kind, perItem(n - (before.store[kind] ?? 0))]),
  );
  return {
    coordination_cpu_us_per_item: producerUs + workersUs,
    coordination_vs_tokenizer: (producerUs + workersUs) / tokenizerUs,
    redis_cpu_us_per_item: redisUs,
    redis_commands_per_item: perItem(after.redis.commands - before.redis.commands),
    gpu_workers_per_redis_core: 1e6 / redisUs / GPU_WORKER_ITEMS_PER_S,
    store_requests_per_item: Object.values(requests).reduce((sum, n) => sum + n, 0),
    fleet_items_per_s: count / seconds,
    details: {
      items: count,
      workers,
      msPerBatch: MS_PER_BATCH,
      // What the stand-in allows: each worker runs one 64-item batch at a time.
      standinIdealItemsPerSecond: (workers * 64 * 1000) / MS_PER_BATCH,
      producerAndCollectorCpuUsPerItem: producerUs,
      workersCpuUsPerItem: workersUs,
      tokenizerCpuUsPerItem: tokenizerUs,
      // Each repetition's, before the fleet and after it.
      tokenizerRunsCpuUsPerItem: tokenizerRuns.map((us) => Math.round(us)),
      storeRequestsPerItem: requests,
    },
  };
}

/** CPU so far of the producer (this process), of the workers, and Redis's and the store's counters. */
async function snapshot(fleet, pids) {
  const [redis, store] = await Promise.all([fleet.redis.costs(), fleet.storeRequests()]);
  return {
    producerMs: cpuMs(),
    workersMs: pids.reduce((sum, pid) => sum + processCpuMs(pid), 0),
    redis,
    store,
  };
}

/**
 * The native tokenizer on the items' rendered prompts, in windows as workers use: `measure(n)`
 * gives n repetitions' CPU per item.
 */
async function tokenizerOf(items) {
  const bundle = await loadBundle(TOKENIZER_BUNDLE);
  const tokenizer = await JudgeTokenizer.load(bundle);
  const render = promptRenderer(bundle.manifest);
  const sanitize = createSanitizer(tokenizer.specialTokens);
  const prompts = items
    .slice(0, TOKENIZER_ITEMS)
    .flatMap((item, i) =>
      buildPromptFields(parseGradingRequest(item, i + 1), sanitize).fields.map((fields) => render(fields)),
    );
  await tokenizer.encode(prompts.slice(0, 256)); // warm-up
  return {
    async measure(repetitions) {
      const runs = [];
      for (let rep = 0; rep < repetitions; rep++) {
        const before = cpuMs();
        for (let i = 0; i < prompts.length; i += 1024) await tokenizer.encode(prompts.slice(i, i + 1024));
        runs.push(((cpuMs() - before) * 1000) / TOKENIZER_ITEMS);
      }
      return runs;
    },
  };
}
