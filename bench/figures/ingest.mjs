// ingest_vs_json_floor, producer_items_per_s and redis_bytes_per_queued_item: about 1 KB chat-log
// items from a local JSONL file into queued chunks, with s3rver as the store and no worker taking
// them. The floor is what any producer must spend on a line: JSON.parse and JSON.stringify of it,
// measured on the same lines in the same run, so that the ratio holds on any machine.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { toJsonl } from '@phudge/core';
import { Redis } from 'ioredis';
import { BenchFleet } from '../harness/fleet.mjs';
import { cpuMs, median } from '../harness/stats.mjs';
import { chatLogItems } from '../workloads.mjs';

/** How often the benchmark looks whether the run is ingested. */
const POLL_MS = 50;

export async function ingestFigures({ items: count = 50_000, repetitions = 5, store } = {}) {
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
    const redis = new Redis(fleet.redis.url);
    const lines = body.split('\n').filter((line) => line !== '');
    const rates = [];
    const cpuPerItem = [];
    const floors = [];
    const ratios = [];
    let bytesPerItem = 0;
    for (let rep = 0; rep < repetitions; rep++) {
      // The floor is measured just before and just after each repetition, and each repetition is
      // divided by its own: the machine's speed drifts (a shared host), and a floor taken at
      // another moment than the ingestion it divides moved the ratio by a quarter.
      const floorBefore = jsonFloorMicroseconds(lines);
      const started = performance.now();
      const cpuBefore = cpuMs();
      const { runId } = await fleet.client.submitRun({ uri }, { runId: `ingest-${rep}` });
      // Watch the run's hash in Redis, seldom: this process is the producer's, so each poll's CPU
      // (an HTTP request, or here a Redis call) would count as ingestion. Every 5 ms that was
      // about 1,000 calls a repetition; every 50 ms the rate is off by at most 50 ms in seconds.
      while ((await redis.hget(`${fleet.config.queue.prefix}:run:${runId}`, 'ingested')) !== '1') {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      rates.push(count / ((performance.now() - started) / 1000));
      const microseconds = ((cpuMs() - cpuBefore) * 1000) / count;
      const floor = (floorBefore + jsonFloorMicroseconds(lines)) / 2;
      cpuPerItem.push(microseconds);
      floors.push(floor);
      ratios.push(microseconds / floor);
      if (rep === 0) bytesPerItem = (await redisBytes(fleet.redis.url, fleet.config.queue.prefix)) / count;
    }
    redis.disconnect();
    return {
      ingest_vs_json_floor: median(ratios),
      producer_items_per_s: median(rates),
      redis_bytes_per_queued_item: bytesPerItem,
      details: {
        items: count,
        itemBytes: Math.round(body.length / count),
        // The producer's own CPU: s3rver and Redis share this machine's cores, a real store would not.
        producerCpuMicrosecondsPerItem: median(cpuPerItem),
        itemsPerProducerCpuSecond: 1e6 / median(cpuPerItem),
        jsonFloorMicrosecondsPerItem: median(floors),
        ratios,
      },
    };
  } finally {
    await fleet.close();
  }
}

/** CPU microseconds per line of JSON.parse then JSON.stringify of each line: the floor of ingesting it. */
function jsonFloorMicroseconds(lines) {
  let keep = 0; // read the results, so that no engine may drop the work
  const before = cpuMs();
  for (const line of lines) keep += JSON.stringify(JSON.parse(line)).length;
  const microseconds = ((cpuMs() - before) * 1000) / lines.length;
  if (keep === 0) throw new Error('no lines');
  return microseconds;
}

/** Memory of every Redis key of the fleet (queues, jobs, events, run state). */
async function redisBytes(url, prefix) {
  const redis = new Redis(url);
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
