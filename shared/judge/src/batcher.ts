/** Limits of one model batch. */
export interface BatchLimits {
  /** Most padded tokens in one batch: rows x the longest row's length. */
  maxBatchTokens: number;
  /** Most rows in one batch. */
  maxBatchSize: number;
}

/**
 * Packs sequences into model batches under a token budget. Sorting by length first means each
 * batch holds sequences of nearly equal length, so little of the batch is padding. Returns the
 * indices of the input sequences, longest batches first; callers restore input order by index.
 */
export function packBatches(lengths: readonly number[], limits: BatchLimits): number[][] {
  const order = lengths
    .map((_, index) => index)
    .sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let padded = 0;
  for (const index of order) {
    // Sorted longest first, so the batch's first row sets its padded length.
    padded = current.length === 0 ? (lengths[index] as number) : padded;
    const fits =
      (current.length + 1) * padded <= limits.maxBatchTokens && current.length < limits.maxBatchSize;
    if (current.length > 0 && !fits) {
      batches.push(current);
      current = [];
      padded = lengths[index] as number;
    }
    current.push(index);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Real tokens / padded tokens over a set of batches. */
export function paddingEfficiency(lengths: readonly number[], batches: readonly number[][]): number {
  let real = 0;
  let padded = 0;
  for (const batch of batches) {
    let longest = 0;
    for (const index of batch) {
      real += lengths[index] as number;
      longest = Math.max(longest, lengths[index] as number);
    }
    padded += longest * batch.length;
  }
  return padded === 0 ? 1 : real / padded;
}
