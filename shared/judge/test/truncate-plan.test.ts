import { describe, expect, it } from 'vitest';
import { cutMiddle, planCuts, planCutsContextFirst, TRUNCATION_MARKER } from '../src/index.js';

describe('planCutsContextFirst', () => {
  it('takes everything from the context before cutting the others, then water-fills them', () => {
    expect(planCutsContextFirst([300, 1000, 50], 200)).toEqual([100, 1000, 50]);
    expect(planCutsContextFirst([300, 1000, 50], 592, 8)).toEqual([8, 1000 - 300, 50]);
  });
});

describe('planCuts (water-filling)', () => {
  it('cuts the longest body first', () => {
    expect(planCuts([1000, 100, 50], 300)).toEqual([700, 100, 50]);
  });

  it('levels long bodies to a common cap when one is not enough', () => {
    const keep = planCuts([1000, 900, 50], 1000) as number[];
    expect(keep[2]).toBe(50);
    expect(keep[0]).toBe(keep[1]);
    expect(1000 + 900 - (keep[0] as number) - (keep[1] as number)).toBeGreaterThanOrEqual(1000);
  });

  it('never keeps fewer than the minimum of any body', () => {
    expect(planCuts([100, 100], 185, 8)).toBeUndefined();
    expect(planCuts([100, 100], 184, 8)).toEqual([8, 8]);
  });

  it('changes nothing when nothing needs cutting', () => {
    expect(planCuts([10, 20], 0)).toEqual([10, 20]);
  });
});

describe('cutMiddle', () => {
  // Five one-character "tokens" a..e at offsets 0..5.
  const spans = { count: 5, offsets: Int32Array.from([0, 1, 1, 2, 2, 3, 3, 4, 4, 5]) };

  it('keeps the head and the tail around the marker', () => {
    expect(cutMiddle('abcde', spans, 3)).toBe(`ab${TRUNCATION_MARKER}e`);
    expect(cutMiddle('abcde', spans, 2)).toBe(`a${TRUNCATION_MARKER}e`);
  });

  it('leaves a text that already fits untouched', () => {
    expect(cutMiddle('abcde', spans, 5)).toBe('abcde');
  });
});
