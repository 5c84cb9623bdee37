import {
  chunkJob,
  type Logger,
  NotFoundError,
  type ObjectStore,
  type PartManifest,
  partManifestSchema,
  type ResultMessage,
  type RunManifest,
  resultJobId,
  runIdSchema,
  runKeys,
} from '@phudge/core';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { readRunManifest } from './run-manifest.js';
import type { RunRecord, RunStore } from './run-store.js';

/** Part manifests read at once while a run is rebuilt. */
const READS_IN_FLIGHT = 16;
/** Chunk jobs added to the queue in one round trip. */
const CHUNKS_PER_BULK = 100;

/** What a rebuild needs of `summary.json`: that the run ended, when, and whether a chunk failed. */
const finishedSummarySchema = z.object({
  completedAt: z.iso.datetime(),
  chunksFailed: z.number(),
  cancelled: z.boolean().optional(),
});

export interface RecoveryDeps {
  runs: RunStore;
  store: ObjectStore;
  chunks: Queue;
  results: Queue;
  logger: Logger;
}

/**
 * Rebuilds runs that Redis has lost (a restart without persistence, a flush, a new Redis) from
 * the store, their source of truth: `run.json` gives the run, each part manifest a counted chunk
 * with its counters; the chunks without one are enqueued again, or the ingestion resumed if it
 * never finished. Every replica scans the store's runs on an interval; a finished run
 * (`summary.json`) comes back on demand, as finished.
 */
export class RunRecovery {
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;

  constructor(
    private readonly deps: RecoveryDeps,
    /** How often to look for runs Redis has lost. */
    private readonly intervalMs: number,
  ) {}

  /** Looks for lost runs now and every interval. */
  start(): void {
    void this.scan();
    this.timer = setInterval(() => void this.scan(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Rebuilds every unfinished run of the store that Redis has no record of. */
  async scan(): Promise<void> {
    if (this.scanning) return; // a slow store: one scan at a time
    this.scanning = true;
    try {
      const runIds = (await this.deps.store.listFolders(runKeys.runsPrefix)).filter(
        (runId) => runIdSchema.safeParse(runId).success,
      );
      for (const runId of await this.deps.runs.unknown(runIds)) await this.rebuild(runId, { scan: true });
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not look for runs to rebuild; trying again later');
    } finally {
      this.scanning = false;
    }
  }

  /**
   * Rebuilds one run from the store. A scan leaves finished runs (and folders without a
   * manifest) alone and marks them settled, so it never brings back runs that expired from Redis
   * on purpose; on demand (a status request) a finished run comes back as finished.
   * @returns the run as Redis now holds it, or undefined when the store has no such run.
   */
  async rebuild(runId: string, options: { scan?: boolean } = {}): Promise<RunRecord | undefined> {
    const { runs, store, logger } = this.deps;
    const manifest = await readRunManifest(store, runId);
    const summary = manifest ? await this.readSummary(runId) : undefined;
    if (!manifest || (summary && options.scan)) {
      if (options.scan) await runs.settle(runId);
      return undefined;
    }
    const parts = await this.readParts(runId);
    const counters: Record<string, number> = {};
    for (const part of parts) {
      for (const [name, value] of Object.entries(part.counters))
        counters[name] = (counters[name] ?? 0) + value;
    }
    const failed = parts.filter((part) => part.failure !== undefined);
    const ingested = manifest.chunks !== undefined && manifest.items !== undefined;
    // A cancelled run is rebuilt cancelled, never resumed. Its summary.json says so: run.json's
    // cancelledAt alone is not enough, as an ingestion ending on another replica as the run is
    // cancelled may write run.json again, with its totals and without the cancellation.
    const cancelled = manifest.cancelledAt !== undefined || summary?.cancelled === true;
    const state = cancelled
      ? 'cancelled'
      : summary
        ? summary.chunksFailed > 0
          ? 'failed'
          : 'completed'
        : parts.length > 0
          ? 'running'
          : 'queued';
    const fields: Record<string, string> = {
      createdAt: String(Date.parse(manifest.createdAt)),
      state,
      options: JSON.stringify(manifest.options),
      digest: manifest.digest,
      input: JSON.stringify(manifest.input),
      chunkSize: String(manifest.chunkSize),
      enqueued: '0',
      ingested: ingested ? '1' : '0',
      chunksDone: String(parts.length),
      chunksFailed: String(failed.length),
      ...(ingested ? { chunks: String(manifest.chunks), items: String(manifest.items) } : {}),
      // As the collector words it when a chunk fails for good.
      ...(failed[0] ? { failure: `chunk ${failed[0].chunk}: ${failed[0].failure}` } : {}),
      ...(summary ? { completedAt: String(Date.parse(summary.completedAt)) } : {}),
      ...(manifest.cancelledAt ? { completedAt: String(Date.parse(manifest.cancelledAt)) } : {}),
    };
    for (const [name, value] of Object.entries(counters)) fields[`c:${name}`] = String(value);
    const restored = await runs.restore(runId, {
      fields,
      counted: parts.map((part) => part.chunk),
      failed: failed.map((part) => part.chunk),
      gradings: Object.fromEntries(parts.map((part) => [String(part.chunk), part.gradings])),
      finished: summary !== undefined || cancelled,
    });
    if (restored) {
      // An ingested run gets its chunks without a part back in the queue, and a chance to end
      // (its last chunk may have been counted before Redis was lost). One never ingested is
      // resumed by the replicas' ingestion scan.
      if (ingested && !summary && !cancelled)
        await this.requeue(runId, manifest, new Set(parts.map((part) => part.chunk)));
      logger.info(
        { runId, state, counted: parts.length, chunks: manifest.chunks },
        'run rebuilt from the store',
      );
    }
    return runs.get(runId);
  }

  private async requeue(
    runId: string,
    manifest: Pick<RunManifest, 'chunkSize' | 'chunks' | 'items' | 'options'>,
    counted: Set<number>,
  ): Promise<void> {
    const { store, chunks, results } = this.deps;
    const jobs: ReturnType<typeof chunkJob>[] = [];
    const total = manifest.chunks ?? 0;
    for (let chunk = 0; chunk < total; chunk++) {
      if (counted.has(chunk)) continue;
      jobs.push(
        chunkJob(runId, manifest.options, chunk, {
          uri: store.uri(runKeys.chunk(runId, chunk)),
          // Every input line is an entry (a bad one its error record), so only the last chunk is short.
          count: Math.min(manifest.chunkSize, (manifest.items ?? 0) - chunk * manifest.chunkSize),
        }),
      );
    }
    for (let i = 0; i < jobs.length; i += CHUNKS_PER_BULK)
      await chunks.addBulk(jobs.slice(i, i + CHUNKS_PER_BULK));
    const message: ResultMessage = { type: 'ingested', runId };
    await results.add('ingested', message, { jobId: resultJobId(message) });
  }

  private async readSummary(runId: string): Promise<z.infer<typeof finishedSummarySchema> | undefined> {
    try {
      const body = await this.deps.store.get(runKeys.summary(runId));
      return finishedSummarySchema.parse(JSON.parse(body.toString('utf8')));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private async readParts(runId: string): Promise<PartManifest[]> {
    const keys = await this.deps.store.list(runKeys.partsPrefix(runId));
    const parts: PartManifest[] = [];
    for (let i = 0; i < keys.length; i += READS_IN_FLIGHT) {
      const read = keys
        .slice(i, i + READS_IN_FLIGHT)
        .map(async (key) =>
          partManifestSchema.parse(JSON.parse((await this.deps.store.get(key)).toString('utf8'))),
        );
      parts.push(...(await Promise.all(read)));
    }
    return parts;
  }
}
