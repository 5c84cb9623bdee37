import {
  type ChunkEntry,
  chunkEntrySchema,
  compareRuns,
  type ErrorResult,
  type Logger,
  NotFoundError,
  type ObjectStore,
  type PartManifest,
  parseJsonl,
  type ReportSummary,
  type ResultMessage,
  type ResultRecord,
  renderRunReport,
  resolveRubric,
  runKeys,
  SummaryBuilder,
  type SummaryCounters,
  summaryFromCounters,
  toJsonl,
  writeRunParquet,
} from '@phudge/core';
import { type ChunkApplied, isFinished, type RunRecord, type RunStore } from './run-store.js';
import type { RunEnding } from './webhooks.js';

/** Error code of the items of a chunk that failed for good. */
export const CHUNK_FAILED = 'chunk_failed';

export interface CollectorOptions {
  onFinished?: (run: RunRecord) => void;
  /** Price of a GPU-hour: summaries then carry their cost (0 or absent: none). */
  gpuHourPrice?: number;
  /** Brings back a run Redis lost from the store (undefined when the store has none either). */
  rebuild?: (runId: string) => Promise<RunRecord | undefined>;
  /** Enqueues the run's end event for its webhooks; idempotent (a deterministic job id per event). */
  notify?: (run: RunRecord, ending: RunEnding) => Promise<void>;
}

/**
 * Consumes the results queue: counts each chunk once into its run's progress (atomically, in
 * Redis) and, when the last chunk of a fully ingested run lands, writes `summary.json` and ends
 * the run. Every step is idempotent, so a message delivered twice, or a collector that crashed
 * half-way, changes nothing.
 */
export class Collector {
  constructor(
    private readonly store: ObjectStore,
    private readonly runs: RunStore,
    private readonly logger: Logger,
    private readonly hooks: CollectorOptions = {},
  ) {}

  async handle(message: ResultMessage): Promise<void> {
    const { runId } = message;
    let applied = await this.apply(message);
    if (applied?.outcome === 'unknown-run' && (await this.hooks.rebuild?.(runId))) {
      // Redis lost the run and the store still has it. The message is applied, not dropped: the
      // rebuild may have listed the parts before this chunk's was written, and a chunk graded
      // again publishes under the same job id, which the queue would take for this one.
      applied = await this.apply(message);
    }
    if (applied?.outcome === 'unknown-run') {
      this.logger.warn({ runId, type: message.type }, 'result for an unknown run ignored');
      return;
    }
    // A chunk that was on an engine when its run was cancelled is kept: the summary grows with it.
    if (applied?.outcome === 'applied' && applied.state === 'cancelled')
      return this.writeCancelledSummary(runId);
    // Checked even for a duplicate: a collector may have died between counting and finishing.
    // A chunk's message says so itself (one round trip); the ingestion's end asks.
    if (applied ? applied.allCounted : await this.runs.allCounted(runId)) await this.finishIfDone(runId);
  }

  /**
   * summary.json and report.html of a cancelled run: what was graded before it stopped. Written
   * at the cancellation and again as each chunk that was on an engine then is counted. A
   * cancelled run is no baseline for the next run of its name. Two writers may race (the
   * cancellation and the collector, or two collectors): each writes again until the run did not
   * change under its write, so the last write holds every counted chunk.
   */
  async writeCancelledSummary(runId: string): Promise<void> {
    for (;;) {
      const run = await this.runs.get(runId);
      if (!run) return;
      const summary = {
        ...this.summaryOf(run, run.completedAt ?? Date.now()),
        chunks: run.chunksDone,
        cancelled: true,
      };
      await this.store.put(runKeys.summary(runId), `${JSON.stringify(summary, null, 2)}\n`);
      await this.store.put(
        runKeys.report(runId),
        renderRunReport(summary, undefined, `${runId} (cancelled)`),
      );
      if ((await this.runs.progress(runId))?.chunksDone === run.chunksDone) return;
    }
  }

  private summaryOf(run: RunRecord, completedAt: number) {
    const seconds = (completedAt - run.createdAt) / 1000;
    const summary = summaryFromCounters(run.counters);
    return {
      runId: run.runId,
      ...summary,
      chunks: run.chunks,
      chunksFailed: run.chunksFailed,
      createdAt: new Date(run.createdAt).toISOString(),
      completedAt: new Date(completedAt).toISOString(),
      seconds,
      itemsPerSecond: seconds > 0 ? run.done / seconds : null,
      ...this.costOf(summary.engineSeconds),
    };
  }

  /** What the run's model time cost, when both the time and a GPU-hour price are known. */
  private costOf(engineSeconds: number | undefined): { cost?: number } {
    const price = this.hooks.gpuHourPrice ?? 0;
    if (engineSeconds === undefined || price <= 0) return {};
    return { cost: (engineSeconds / 3600) * price };
  }

  /** Counts a chunk's message into its run (undefined for a message that is not a chunk's). */
  private async apply(message: ResultMessage): Promise<ChunkApplied | undefined> {
    const { runId } = message;
    if (message.type === 'chunk') return await this.runs.applyChunk(runId, message.chunk, message.counters);
    if (message.type !== 'chunk-failed') return undefined;
    const run = await this.runs.get(runId);
    if (!run) return { outcome: 'unknown-run', allCounted: false };
    const records = await this.writeFailedPart(runId, message.chunk, message.reason);
    const counters = records
      ? summarize(records, run)
      : { items: message.count, errors: message.count, [`error:${CHUNK_FAILED}`]: message.count };
    await this.writeFailedManifest(message, records?.length ?? 0, counters);
    return await this.runs.applyChunk(
      runId,
      message.chunk,
      counters,
      `chunk ${message.chunk}: ${message.reason}`,
    );
  }

  private async finishIfDone(runId: string): Promise<void> {
    const run = await this.runs.get(runId);
    if (!run?.ingested || run.chunksDone < (run.chunks ?? 0)) return;
    if (isFinished(run)) {
      // A collector may have died between finishing the run and enqueueing its event: this
      // redelivered message enqueues it again (the same job id, so at most once more).
      if (run.state !== 'cancelled') await this.notifyFinished(run);
      return;
    }
    const completedAt = Date.now();
    const summary = this.summaryOf(run, completedAt);
    const { seconds } = summary;
    // Before the summary: a run is seen as finished only once every output it asked for is there.
    if (run.options.output?.format === 'parquet') {
      const keys = await writeRunParquet(this.store, runId, run.chunks ?? 0);
      this.logger.info({ runId, files: keys.length }, 'Parquet results written');
    }
    await this.store.put(runKeys.summary(runId), `${JSON.stringify(summary, null, 2)}\n`);
    const verdict = await this.writeReport(run, summary);
    const state = run.chunksFailed > 0 ? 'failed' : 'completed';
    // The summary's completedAt, so that a run rebuilt from the store shows the same time.
    if (await this.runs.finish(runId, state, undefined, completedAt)) {
      this.logger.info({ runId, state, items: run.items, seconds }, 'run finished');
      this.hooks.onFinished?.({ ...run, state });
      await this.hooks.notify?.(
        { ...run, state, completedAt },
        { reportUri: this.store.uri(runKeys.report(runId)), ...(verdict ? { verdict } : {}) },
      );
    }
  }

  /** Enqueues a finished run's event again, its verdict read back from its stored summary. */
  private async notifyFinished(run: RunRecord): Promise<void> {
    if (!this.hooks.notify) return;
    let verdict: string | undefined;
    try {
      const summary = JSON.parse((await this.store.get(runKeys.summary(run.runId))).toString('utf8'));
      verdict = (await this.comparison(run, summary))?.verdict;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    await this.hooks.notify(run, {
      reportUri: this.store.uri(runKeys.report(run.runId)),
      ...(verdict ? { verdict } : {}),
    });
  }

  /** The baseline's summary (the previous run of the same name), and the verdict against it. */
  private async comparison(run: RunRecord, summary: ReportSummary) {
    const name = run.options.name;
    const previous = name ? await this.runs.baselineOf(run.runId, name) : undefined;
    if (!previous) return undefined;
    try {
      const baseline: ReportSummary = JSON.parse(
        (await this.store.get(runKeys.summary(previous))).toString('utf8'),
      );
      return { baseline, verdict: compareRuns(summary, baseline).verdict };
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return undefined;
    }
  }

  /**
   * runs/<id>/report.html, against the previous run of the same name when there is one.
   * @returns the verdict against that run.
   */
  private async writeReport(run: RunRecord, summary: ReportSummary): Promise<string | undefined> {
    const comparison = await this.comparison(run, summary);
    const title = run.options.name ? `${run.options.name} (${run.runId})` : run.runId;
    await this.store.put(runKeys.report(run.runId), renderRunReport(summary, comparison?.baseline, title));
    return comparison?.verdict;
  }

  /** A chunk that can never be graded still gets a results part: one error record per item. */
  private async writeFailedPart(
    runId: string,
    chunk: number,
    reason: string,
  ): Promise<ErrorResult[] | undefined> {
    let body: Buffer;
    try {
      body = await this.store.get(runKeys.chunk(runId, chunk));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error; // the store is away: retry the message later
    }
    let entries: ChunkEntry[];
    try {
      entries = parseJsonl(body).map((line) => chunkEntrySchema.parse(line));
    } catch {
      return undefined; // the chunk itself is what failed: its lines cannot be listed
    }
    const records: ErrorResult[] = entries.map((entry) => {
      const id = 'error' in entry ? entry.id : entry.request.id;
      const spec = 'error' in entry ? undefined : entry.request.rubric;
      const rubric =
        'error' in entry ? entry.rubric : spec === undefined ? undefined : resolveRubric(spec).label;
      return {
        ...(id !== undefined ? { id } : {}),
        ...(entry.source !== undefined ? { source: entry.source } : {}),
        line: entry.line,
        ...(rubric !== undefined ? { rubric } : {}),
        error: { code: CHUNK_FAILED, message: reason },
      };
    });
    await this.store.put(runKeys.results(runId, chunk), toJsonl(records));
    return records;
  }

  /** The failed chunk's part manifest, so that its run can be rebuilt from the store alone. */
  private async writeFailedManifest(
    message: Extract<ResultMessage, { type: 'chunk-failed' }>,
    count: number,
    counters: SummaryCounters,
  ): Promise<void> {
    const { runId, chunk } = message;
    const manifest: PartManifest = {
      runId,
      chunk,
      count,
      counters,
      gradings: await this.runs.gradingsOf(runId, chunk),
      attempt: message.attempts,
      stalled: message.stalled,
      failure: message.reason,
      writtenAt: new Date().toISOString(),
    };
    await this.store.put(runKeys.part(runId, chunk), `${JSON.stringify(manifest)}\n`);
  }
}

function summarize(records: ResultRecord[], run: RunRecord) {
  const builder = new SummaryBuilder(run.options.segments ?? []);
  for (const record of records) builder.add(record);
  return builder.counters;
}
