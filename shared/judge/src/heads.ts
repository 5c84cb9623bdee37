import type { Head } from '@phudge/core';

/** The score of one prompt, decoded from the model's output row. */
export interface Score {
  score: number;
  /** classification and causal heads: the most likely score 1..5. */
  label?: number;
  /** classification and causal heads: probability of each score 1..5. */
  probabilities?: number[];
}

/** How to read a score from one output row. */
export interface HeadDecoder {
  head: Head;
  scoreRange: readonly [number, number];
  /** causal head: vocabulary ids of the tokens "1".."5", from the bundle's tokenizer. */
  scoreTokenIds?: readonly number[];
}

/**
 * Decodes each row of a [rows, width] output.
 * - regression: one logit, clipped to the score range, kept as a float;
 * - classification: softmax over five logits, expected score, argmax label;
 * - causal: the same over the next-token logits of the five score tokens.
 */
export function decodeScores(decoder: HeadDecoder, logits: Float32Array, rows: number): Score[] {
  const width = logits.length / rows;
  const scores: Score[] = [];
  for (let row = 0; row < rows; row++) {
    const base = row * width;
    if (decoder.head === 'regression') {
      const [low, high] = decoder.scoreRange;
      scores.push({ score: Math.min(high, Math.max(low, logits[base] as number)) });
      continue;
    }
    const columns =
      decoder.head === 'causal' ? (decoder.scoreTokenIds as readonly number[]) : [0, 1, 2, 3, 4];
    scores.push(fromFiveLogits(columns.map((column) => logits[base + column] as number)));
  }
  return scores;
}

function fromFiveLogits(values: number[]): Score {
  const max = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  const probabilities = exps.map((value) => value / sum);
  let label = 1;
  let expected = 0;
  probabilities.forEach((p, i) => {
    expected += p * (i + 1);
    if (p > (probabilities[label - 1] as number)) label = i + 1;
  });
  return { score: expected, label, probabilities };
}

/** Relative mode: the winner by score difference; within the margin it is a tie. */
export function pickWinner(a: number, b: number, tieMargin: number): 'A' | 'B' | 'tie' {
  if (Math.abs(a - b) <= tieMargin) return 'tie';
  return a > b ? 'A' : 'B';
}
