import {
  type AbsoluteResult,
  bootstrap,
  type Interval,
  isErrorResult,
  kendallTau,
  meanAbsoluteError,
  pearson,
  type RelativeResult,
  type ResultRecord,
  spearman,
} from '@phudge/core';
import type { Benchmark } from './benchmarks.js';

export interface AbsoluteMetrics {
  kind: 'absolute';
  n: number;
  pearson: Interval;
  spearman: Interval;
  kendall: Interval;
  mae: number;
}

export interface PairwiseMetrics {
  kind: 'pairwise';
  n: number;
  accuracy: Interval;
}

export type EvalMetrics = (AbsoluteMetrics | PairwiseMetrics) & { errors: number };

/** Agreement of the judge's results (in benchmark order) with the benchmark's labels. */
export function evaluate(benchmark: Benchmark, results: ResultRecord[]): EvalMetrics {
  const graded = results
    .map((record, i) => ({ record, label: benchmark.items[i]?.label }))
    .filter(({ record }) => !isErrorResult(record));
  const errors = results.length - graded.length;
  if (benchmark.kind === 'absolute') {
    const predicted = graded.map(({ record }) => (record as AbsoluteResult).score);
    const labels = graded.map(({ label }) => (label as { score: number }).score);
    return {
      kind: 'absolute',
      n: predicted.length,
      errors,
      pearson: bootstrap(pearson, predicted, labels),
      spearman: bootstrap(spearman, predicted, labels),
      kendall: bootstrap(kendallTau, predicted, labels),
      mae: meanAbsoluteError(predicted, labels),
    };
  }
  // Accuracy as a mean of 0/1 hits, so that the same bootstrap gives its interval.
  const hits = graded.map(({ record, label }) =>
    hit(benchmark, record as RelativeResult, (label as { winner: string }).winner),
  );
  const accuracy = bootstrap((x) => x.reduce((a, b) => a + b, 0) / x.length, hits, hits);
  return { kind: 'pairwise', n: hits.length, errors, accuracy };
}

function hit(benchmark: Benchmark, record: RelativeResult, winner: string): number {
  // HHH: strictly better, as the benchmark defines it; elsewhere the judge's own A/B/tie call.
  if (benchmark.name === 'hhh') return record.scores[0] > record.scores[1] ? 1 : 0;
  return record.winner === winner ? 1 : 0;
}
