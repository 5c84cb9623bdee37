import { describe, expect, it } from 'vitest';
import { decodeScores, pickWinner } from '../src/index.js';

describe('score heads', () => {
  it('regression: clips one logit to the score range and keeps it a float', () => {
    const scores = decodeScores(
      { head: 'regression', scoreRange: [1, 5] },
      Float32Array.from([-2, 3.25, 9]),
      3,
    );
    expect(scores.map((s) => s.score)).toEqual([1, 3.25, 5]);
    expect(scores[1]?.label).toBeUndefined();
  });

  it('classification: softmax, expected score and argmax label', () => {
    const [score] = decodeScores(
      { head: 'classification', scoreRange: [1, 5] },
      Float32Array.from([0, 0, 0, 0, Math.log(6)]),
      1,
    );
    expect(score?.probabilities?.map((p) => Number(p.toFixed(6)))).toEqual([0.1, 0.1, 0.1, 0.1, 0.6]);
    expect(score?.label).toBe(5);
    expect(score?.score).toBeCloseTo(0.1 * (1 + 2 + 3 + 4) + 0.6 * 5, 6);
  });

  it('causal: reads the logits of the score tokens out of the vocabulary row', () => {
    const vocab = new Float32Array(20).fill(50); // other tokens must not matter
    [10, 11, 12, 13, 14].forEach((id, i) => {
      vocab[id] = i === 2 ? 5 : 0;
    });
    const [score] = decodeScores(
      { head: 'causal', scoreRange: [1, 5], scoreTokenIds: [10, 11, 12, 13, 14] },
      vocab,
      1,
    );
    expect(score?.label).toBe(3);
    expect(score?.probabilities?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('relative: a difference within the tie margin is a tie', () => {
    expect(pickWinner(4.1, 2.3, 0.25)).toBe('A');
    expect(pickWinner(2.3, 4.1, 0.25)).toBe('B');
    expect(pickWinner(3.0, 3.2, 0.25)).toBe('tie');
    expect(pickWinner(3.0, 3.2, 0)).toBe('B');
  });
});
