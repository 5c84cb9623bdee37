// producer_items_per_s and redis_bytes_per_queued_item: about 1 KB chat-log items from a local
// JSONL file into queued chunks, with s3rver as the store and no worker taking them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { toJsonl } from '@phudge/core';
import { Redis } from 'ioredis';
import { BenchFleet, REDIS_URL } from '../harness/fleet.mjs';
import { cpuMs, median } from '../harness/stats.mjs';
import { chatLogItems } from '../workloads.mjs';

export async function ingestFigures({ items: count = 50_000, repetitions = 3, store } = {}) {
  const items = chatLogItems(count);
  const body = toJsonl(items);
  // No backpressure pause: this measures how fast the producer can queue, not the workers.
  const fleet = await BenchFleet.start({
    PHUDGE_MAX_QUEUE_DEPTH: '1000000',
    ...(store ? { PHUDGE_STORE_URL: store } : {}),
  });
  try {
    const path = join(fleet.dir, 'ingest.jsonl');
    writeFileSync(path, body);
    const uri = pathToFileURL(path).href;
    const redis = new Redis(REDIS_URL);
    const rates = [];
    const cpuPerItem = [];
    let bytesPerItem = 0;
    for (let rep = 0; rep < repetitions; rep++) {
      const started = performance.now();
      const cpuBefore = cpuMs();
      const { runId } = await fleet.client.submitRun({ uri }, { runId: `ingest-${rep}` });
      // Watch the run's hash in Redis: polling the HTTP API from this process every few ms
      // would spend the producer's own CPU on the measurement.
      while ((await redis.hget(`${fleet.config.queue.prefix}:run:${runId}`, 'ingested')) !== '1') {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      rates.push(count / ((performance.now() - started) / 1000));
      cpuPerItem.push(((cpuMs() - cpuBefore) * 1000) / count);
      if (rep === 0) bytesPerItem = (await redisBytes(fleet.config.queue.prefix)) / count;
    }
    redis.disconnect();
    return {
      producer_items_per_s: median(rates),
      redis_bytes_per_queued_item: bytesPerItem,
      details: {
        items: count,
        itemBytes: Math.round(body.length / count),
        // The producer's own CPU: s3rver and Redis share this machine's cores, a real store would not.
        producerCpuMicrosecondsPerItem: median(cpuPerItem),
        itemsPerProducerCpuSecond: 1e6 / median(cpuPerItem),
      },
    };
  } finally {
    await fleet.close();
  }
}

/** Memory of every Redis key of the fleet (queues, jobs, events, run state). */
async function redisBytes(prefix) {
  const redis = new Redis(REDIS_URL);
  try {
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) total += Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
    } while (cursor !== '0');
    return total;
  } finally {
    redis.disconnect();
  }
}
