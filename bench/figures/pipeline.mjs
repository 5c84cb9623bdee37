// pipeline_vs_engine and naive_speedup, with the bench judge (about 20 ms of model time per item
// here, so that the model dominates as it does on a GPU).
import { fileURLToPath } from 'node:url';
import { parseGradingRequest, toJsonl } from '@phudge/core';
import {
  buildPromptFields,
  createSanitizer,
  Engine,
  engineOptions,
  JudgeTokenizer,
  loadBundle,
  packBatches,
  padBatch,
  promptRenderer,
} from '@phudge/judge';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { BenchFleet } from '../harness/fleet.mjs';
import { startRedisServer } from '../harness/redis-process.mjs';
import { chatLogItems } from '../workloads.mjs';

const MODEL = fileURLToPath(new URL('../../models/bench-judge', import.meta.url));

export async function pipelineFigures({ items: count = 800, naiveItems = 200 } = {}) {
  const items = chatLogItems(count);
  const bundle = await loadBundle(MODEL);
  const tokenizer = await JudgeTokenizer.load(bundle);
  const render = promptRenderer(bundle.manifest);
  const sanitize = createSanitizer(tokenizer.specialTokens);
  const promptOf = (item, i) =>
    render(buildPromptFields(parseGradingRequest(item, i + 1), sanitize).fields[0]);
  const ids = await tokenizer.encode(items.map(promptOf));
  const engine = await Engine.start(engineOptions(bundle, { kind: 'cpu' }, 1));
  let engineAlone;
  let naive;
  try {
    // The engine alone: the same items, already tokenized and packed, two batches queued at a time.
    const batches = packBatches(
      ids.map((row) => row.length),
      { maxBatchTokens: 16384, maxBatchSize: 64 },
    ).map((batch) =>
      padBatch(
        batch.map((i) => ids[i]),
        tokenizer.padId,
        tokenizer.paddingSide,
      ),
    );
    const started = performance.now();
    let inFlight = Promise.resolve();
    for (const batch of batches) {
      const run = engine.run(batch);
      await inFlight;
      inFlight = run.then(() => {});
    }
    await inFlight;
    engineAlone = count / ((performance.now() - started) / 1000);
    naive = await naiveItemsPerSecond(items.slice(0, naiveItems), promptOf, tokenizer, engine);
  } finally {
    await engine.close();
  }

  const fleet = await BenchFleet.start({ PHUDGE_MODEL: MODEL, PHUDGE_THREADS: '1' });
  try {
    await fleet.startWorkers(1);
    const uri = await fleet.upload('inputs/pipeline.jsonl', toJsonl(items));
    await fleet.timeRun({ uri: await fleet.upload('inputs/warm.jsonl', toJsonl(items.slice(0, 64))) });
    const { seconds } = await fleet.timeRun({ uri });
    const pipeline = count / seconds;
    return {
      pipeline_vs_engine: pipeline / engineAlone,
      naive_speedup: pipeline / naive,
      details: {
        items: count,
        engineItemsPerSecond: engineAlone,
        pipelineItemsPerSecond: pipeline,
        naiveItemsPerSecond: naive,
      },
    };
  } finally {
    await fleet.close();
  }
}

/** The first design a user writes: one BullMQ job per item, one model call per item. */
async function naiveItemsPerSecond(items, promptOf, tokenizer, engine) {
  const redis = await startRedisServer();
  const connection = { url: redis.url, maxRetriesPerRequest: null };
  const name = `naive-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const worker = new Worker(
    name,
    async (job) => {
      const [row] = await tokenizer.encode([promptOf(job.data.item, job.data.index)]);
      const output = await engine.run(padBatch([row], tokenizer.padId, tokenizer.paddingSide));
      return { id: job.data.item.id, score: output.logits[0] };
    },
    { connection, concurrency: 1 },
  );
  try {
    await events.waitUntilReady();
    const started = performance.now();
    let completed = 0;
    const done = new Promise((resolve) =>
      events.on('completed', () => {
        completed += 1;
        if (completed === items.length) resolve();
      }),
    );
    await queue.addBulk(items.map((item, index) => ({ name: 'grade', data: { item, index } })));
    await done;
    return items.length / ((performance.now() - started) / 1000);
  } finally {
    await worker.close();
    await events.close();
    await queue.close();
    await redis.stop();
  }
}
