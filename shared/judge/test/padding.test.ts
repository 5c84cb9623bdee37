import { describe, expect, it } from 'vitest';
import { padBatch } from '../src/index.js';

describe('padBatch', () => {
  it('pads on the left with the pad id and masks the padding', () => {
    const batch = padBatch([[7, 8, 9], [5]], 0, 'left');
    expect([batch.rows, batch.columns]).toEqual([2, 3]);
    expect([...batch.inputIds]).toEqual([7n, 8n, 9n, 0n, 0n, 5n]);
    expect([...batch.attentionMask]).toEqual([1n, 1n, 1n, 0n, 0n, 1n]);
  });

  it('pads on the right when the tokenizer says so', () => {
    const batch = padBatch([[5], [7, 8]], 4000, 'right');
    expect([...batch.inputIds]).toEqual([5n, 4000n, 7n, 8n]);
    expect([...batch.attentionMask]).toEqual([1n, 0n, 1n, 1n]);
  });
});
