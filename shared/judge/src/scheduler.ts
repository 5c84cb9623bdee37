import { type BatchLimits, packBatches } from './batcher.js';
import type { ModelEngine } from './engine/engine.js';
import type { Score } from './heads.js';
import { padBatch } from './padding.js';
import type { PaddingSide } from './tokenizer.js';

/** Token accounting of everything scheduled so far. */
export interface SchedulerStats {
  batches: number;
  prompts: number;
  realTokens: number;
  paddedTokens: number;
}

/** The scheduler stopped taking work (a draining worker): prompts not yet on the engine are refused. */
export class DrainingError extends Error {
  override readonly name = 'DrainingError';
}

/** A prompt's score and its share of its batch's model time (the batch's time split by tokens). */
export interface ScoredPrompt {
  score: Score;
  engineMs: number;
}

interface PendingPrompt {
  ids: number[];
  resolve: (scored: ScoredPrompt) => void;
  reject: (error: Error) => void;
}

/** What one model batch was, for metrics. */
export interface BatchReport {
  rows: number;
  /** Longest row: the padded length. */
  columns: number;
  realTokens: number;
  /** Milliseconds inside session.run. */
  runMs: number;
}

export interface SchedulerOptions extends BatchLimits {
  padId: number;
  paddingSide: PaddingSide;
  decode: (logits: Float32Array, rows: number) => Score[];
  /** Told about every batch the engine ran. */
  onBatch?: (report: BatchReport) => void;
}

/**
 * Feeds the engine from one pool of pending prompts, whoever submitted them: a local window of
 * lines or several chunk jobs at once, so one model batch can mix items of several jobs. Keeps
 * two batches on the engine (one running, one queued) so the model never waits for the host;
 * each new batch is packed from everything pending then, sorted by length, and always holds
 * the oldest pending prompt, so nothing starves.
 */
export class BatchScheduler {
  readonly stats: SchedulerStats = { batches: 0, prompts: 0, realTokens: 0, paddedTokens: 0 };
  private pending: PendingPrompt[] = [];
  private onEngine = 0;
  private draining = false;

  /** One running and one waiting in the engine thread's queue. */
  private static readonly BATCHES_ON_ENGINE = 2;

  constructor(
    private readonly engine: ModelEngine,
    private readonly options: SchedulerOptions,
  ) {}

  /** Scores token sequences; resolves when all of them are scored, in the order given. */
  async score(sequences: number[][]): Promise<Score[]> {
    return (await this.scoreWithCost(sequences)).map((scored) => scored.score);
  }

  /** As {@link score}, with each prompt's share of the model time of the batch it ran in. */
  scoreWithCost(sequences: number[][]): Promise<ScoredPrompt[]> {
    if (this.draining) return Promise.reject(new DrainingError('the judge is draining'));
    const scores = sequences.map(
      (ids) => new Promise<ScoredPrompt>((resolve, reject) => this.pending.push({ ids, resolve, reject })),
    );
    this.pump();
    return Promise.all(scores);
  }

  /** Refuses new work and rejects what is not on the engine yet; batches on the engine finish. */
  drain(): void {
    this.draining = true;
    const refused = this.pending;
    this.pending = [];
    for (const prompt of refused) prompt.reject(new DrainingError('the judge is draining'));
  }

  private pump(): void {
    while (this.onEngine < BatchScheduler.BATCHES_ON_ENGINE && this.pending.length > 0) {
      const batch = this.takeBatch();
      this.onEngine += 1;
      this.run(batch).finally(() => {
        this.onEngine -= 1;
        this.pump();
      });
    }
  }

  /** The packed batch that holds the oldest pending prompt, removed from the pool. */
  private takeBatch(): PendingPrompt[] {
    const lengths = this.pending.map((prompt) => prompt.ids.length);
    const batches = packBatches(lengths, this.options);
    const chosen = new Set(batches.find((batch) => batch.includes(0)));
    const batch = [...chosen].map((index) => this.pending[index] as PendingPrompt);
    this.pending = this.pending.filter((_, index) => !chosen.has(index));
    return batch;
  }

  private async run(batch: PendingPrompt[]): Promise<void> {
    const sequences = batch.map((prompt) => prompt.ids);
    const padded = padBatch(sequences, this.options.padId, this.options.paddingSide);
    this.stats.batches += 1;
    this.stats.prompts += batch.length;
    this.stats.paddedTokens += padded.rows * padded.columns;
    let realTokens = 0;
    for (const ids of sequences) realTokens += ids.length;
    this.stats.realTokens += realTokens;
    try {
      const output = await this.engine.run(padded);
      this.options.onBatch?.({ rows: padded.rows, columns: padded.columns, realTokens, runMs: output.runMs });
      const scores = this.options.decode(output.logits, output.rows);
      // Padding costs what real tokens do; it is shared out with them, by each prompt's length.
      const msPerToken = realTokens > 0 ? output.runMs / realTokens : 0;
      for (const [row, prompt] of batch.entries())
        prompt.resolve({ score: scores[row] as Score, engineMs: prompt.ids.length * msPerToken });
    } catch (error) {
      for (const prompt of batch) prompt.reject(error as Error);
    }
  }
}
