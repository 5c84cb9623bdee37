// scaleout_efficiency_16: throughput of 16 worker processes / (16 x one worker), each worker's
// engine replaced by the fixed-latency stand-in (200 ms per batch of up to 64), so that only
// coordination (Redis, store, producer, collector) can make the fleet fall short.
import { fileURLToPath } from 'node:url';
import { toJsonl } from '@phudge/core';
import { BenchFleet } from '../harness/fleet.mjs';
import { chatLogItems } from '../workloads.mjs';

const STANDIN = fileURLToPath(new URL('../harness/standin-worker.mjs', import.meta.url));
const MS_PER_BATCH = 200;

async function itemsPerSecond(workers, count) {
  const fleet = await BenchFleet.start({ PHUDGE_WORKER_CONCURRENCY: '4', PHUDGE_MAX_QUEUE_DEPTH: '100000' });
  try {
    await fleet.startWorkers(workers, { entry: STANDIN, args: [String(MS_PER_BATCH)] });
    const uri = await fleet.upload('inputs/scaleout.jsonl', toJsonl(chatLogItems(count)));
    const { seconds } = await fleet.timeRun({ uri });
    return count / seconds;
  } finally {
    await fleet.close();
  }
}

export async function scaleoutFigures({ perWorkerItems = 3200 } = {}) {
  const one = await itemsPerSecond(1, perWorkerItems);
  const sixteen = await itemsPerSecond(16, perWorkerItems * 16);
  return {
    scaleout_efficiency_16: sixteen / (16 * one),
    details: {
      oneWorkerItemsPerSecond: one,
      sixteenWorkersItemsPerSecond: sixteen,
      msPerBatch: MS_PER_BATCH,
    },
  };
}
