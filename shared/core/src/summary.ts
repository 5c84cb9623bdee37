import { isErrorResult, type ResultRecord } from './schemas/result.js';

/** What a finished run (or a local `phudge grade`) reports about its results. */
export interface RunSummary {
  items: number;
  graded: number;
  errors: number;
  truncated: number;
  sanitized: number;
  /** Mean of every score (both scores of a pair), or null when nothing was graded. */
  meanScore: number | null;
  /** Scores rounded to the nearest integer, counted: keys "1".."5". */
  histogram: Record<string, number>;
  /** Relative mode: how often A, B, or neither won. */
  winners?: { A: number; B: number; tie: number };
  /** Error codes, counted. */
  errorCodes: Record<string, number>;
}

/** Accumulates a {@link RunSummary} one record at a time, in constant memory. */
export class SummaryBuilder {
  private items = 0;
  private errors = 0;
  private truncated = 0;
  private sanitized = 0;
  private scoreSum = 0;
  private scoreCount = 0;
  private readonly histogram: Record<string, number> = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
  private winners: { A: number; B: number; tie: number } | undefined;
  private readonly errorCodes: Record<string, number> = {};

  add(record: ResultRecord): void {
    this.items += 1;
    if (isErrorResult(record)) {
      this.errors += 1;
      this.errorCodes[record.error.code] = (this.errorCodes[record.error.code] ?? 0) + 1;
      return;
    }
    if (record.truncated) this.truncated += 1;
    if (record.sanitized) this.sanitized += 1;
    const scores = 'scores' in record ? record.scores : [record.score];
    for (const score of scores) {
      this.scoreSum += score;
      this.scoreCount += 1;
      const bin = String(Math.min(5, Math.max(1, Math.round(score))));
      this.histogram[bin] = (this.histogram[bin] ?? 0) + 1;
    }
    if ('winner' in record) {
      this.winners ??= { A: 0, B: 0, tie: 0 };
      this.winners[record.winner] += 1;
    }
  }

  build(): RunSummary {
    return {
      items: this.items,
      graded: this.items - this.errors,
      errors: this.errors,
      truncated: this.truncated,
      sanitized: this.sanitized,
      meanScore: this.scoreCount === 0 ? null : this.scoreSum / this.scoreCount,
      histogram: { ...this.histogram },
      ...(this.winners ? { winners: { ...this.winners } } : {}),
      errorCodes: { ...this.errorCodes },
    };
  }
}
