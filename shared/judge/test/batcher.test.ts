import { describe, expect, it } from 'vitest';
import { packBatches, paddingEfficiency } from '../src/index.js';

/** A small deterministic generator, so that the "random" lengths are the same on every run. */
function lengthsFrom(seed: number, count: number, min: number, max: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return min + (state % (max - min + 1));
  });
}

describe('token-budget batcher', () => {
  const limits = { maxBatchTokens: 4096, maxBatchSize: 16 };
  const lengths = lengthsFrom(7, 500, 40, 2000);

  it('places every sequence in exactly one batch', () => {
    const batches = packBatches(lengths, limits);
    const seen = batches.flat().sort((a, b) => a - b);
    expect(seen).toEqual(lengths.map((_, i) => i));
  });

  it('keeps every batch under the token budget and the row limit', () => {
    for (const batch of packBatches(lengths, limits)) {
      const longest = Math.max(...batch.map((i) => lengths[i] as number));
      expect(batch.length * longest).toBeLessThanOrEqual(limits.maxBatchTokens);
      expect(batch.length).toBeLessThanOrEqual(limits.maxBatchSize);
    }
  });

  it('groups sequences of similar length, so little of a batch is padding', () => {
    const sorted = packBatches(lengths, limits);
    const inInputOrder = [];
    for (let i = 0; i < lengths.length; i += 2) inInputOrder.push([i, i + 1]);
    expect(paddingEfficiency(lengths, sorted)).toBeGreaterThan(0.95);
    expect(paddingEfficiency(lengths, inInputOrder)).toBeLessThan(0.8);
  });

  it('splits a batch where the padding would cost more than another model call', () => {
    // Greedy packing would pad eight short prompts to the long one's length (9000 tokens).
    const lengths = [1000, ...Array(8).fill(100)];
    const batches = packBatches(lengths, { maxBatchTokens: 16384, maxBatchSize: 64 });
    expect(batches).toEqual([[0], [1, 2, 3, 4, 5, 6, 7, 8]]);
    expect(paddingEfficiency(lengths, batches)).toBe(1);
  });

  it('keeps nearly equal lengths together rather than paying for another call', () => {
    expect(packBatches([100, 99, 98, 97], { maxBatchTokens: 16384, maxBatchSize: 64 })).toEqual([
      [0, 1, 2, 3],
    ]);
  });

  it('gives a sequence longer than the budget a batch of its own', () => {
    expect(packBatches([5000, 10, 10], { maxBatchTokens: 4096, maxBatchSize: 8 })).toEqual([[0], [1, 2]]);
  });

  it('fills batches up to the row limit with short sequences', () => {
    const batches = packBatches(Array(10).fill(3), { maxBatchTokens: 1000, maxBatchSize: 4 });
    expect(batches.map((batch) => batch.length)).toEqual([4, 4, 2]);
  });

  it('is deterministic for ties', () => {
    expect(packBatches([5, 5, 5, 5], { maxBatchTokens: 10, maxBatchSize: 8 })).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
