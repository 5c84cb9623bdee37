import type { EngineBatch } from './engine/protocol.js';
import type { PaddingSide } from './tokenizer.js';

/**
 * Lays token sequences out as one padded [rows, longest] batch of int64 ids and attention mask.
 * Written through 32-bit views (ids are non-negative and small, the high words stay zero), which
 * is several times faster than creating a BigInt per token (little-endian: every platform ORT ships for).
 */
export function padBatch(sequences: readonly number[][], padId: number, side: PaddingSide): EngineBatch {
  const rows = sequences.length;
  let columns = 0;
  for (const ids of sequences) columns = Math.max(columns, ids.length);
  const inputIds = new BigInt64Array(rows * columns);
  const attentionMask = new BigInt64Array(rows * columns);
  const ids32 = new Int32Array(inputIds.buffer);
  const mask32 = new Int32Array(attentionMask.buffer);
  sequences.forEach((ids, row) => {
    const start = row * columns;
    const offset = side === 'left' ? columns - ids.length : 0;
    for (let col = 0; col < columns; col++) ids32[2 * (start + col)] = padId;
    for (let i = 0; i < ids.length; i++) {
      ids32[2 * (start + offset + i)] = ids[i] as number;
      mask32[2 * (start + offset + i)] = 1;
    }
  });
  return { rows, columns, inputIds, attentionMask };
}
