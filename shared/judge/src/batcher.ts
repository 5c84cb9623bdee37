/** Limits of one model batch. */
export interface BatchLimits {
  /** Most padded tokens in one batch: rows x the longest row's length. */
  maxBatchTokens: number;
  /** Most rows in one batch. */
  maxBatchSize: number;
}

/**
 * What one more batch costs, in tokens: a model call has a fixed price (a kernel launch, a
 * synchronisation) on top of its padded tokens. Without it, packing would favour one prompt per
 * batch; with it, a batch is split only where that saves more padding than this.
 */
export const BATCH_OVERHEAD_TOKENS = 512;

/**
 * Packs sequences into model batches under a token budget, with the least padding. Sequences
 * are sorted by length (longest first) and cut into consecutive runs, each within the limits;
 * the cuts minimise padded tokens plus {@link BATCH_OVERHEAD_TOKENS} per batch (dynamic
 * programming over the sorted order). Returns the indices of the input sequences, longest
 * batches first; callers restore input order by index.
 */
export function packBatches(lengths: readonly number[], limits: BatchLimits): number[][] {
  const order = lengths
    .map((_, index) => index)
    .sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
  const sorted = order.map((index) => lengths[index] as number);
  const n = sorted.length;
  // best[j]: least cost of packing the first j sorted sequences; cut[j]: where its last batch starts.
  const best = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    for (let i = j - 1; i >= 0 && j - i <= limits.maxBatchSize; i--) {
      const rows = j - i;
      const padded = rows * (sorted[i] as number); // sorted longest first: row i is the longest
      // A sequence longer than the budget still gets a batch of its own.
      if (padded > limits.maxBatchTokens && rows > 1) break;
      const cost = (best[i] as number) + padded + BATCH_OVERHEAD_TOKENS;
      // On a tie prefer the later start: earlier batches stay full, the short one comes last.
      if (cost < (best[j] as number) || (cost === best[j] && i > (cut[j] as number))) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const batches: number[][] = [];
  for (let j = n; j > 0; j = cut[j] as number) batches.unshift(order.slice(cut[j] as number, j));
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
