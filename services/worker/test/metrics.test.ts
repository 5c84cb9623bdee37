import { describe, expect, it } from 'vitest';
import { workerMetrics } from '../src/metrics.js';

describe('worker metrics', () => {
  it('observes each model batch: its rows, padded tokens and seconds on the engine', async () => {
    const metrics = workerMetrics(() => undefined);
    metrics.onBatch({ rows: 4, columns: 100, realTokens: 300, runMs: 250 });
    metrics.onBatch({ rows: 2, columns: 50, realTokens: 100, runMs: 50 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('phudge_batch_seconds_count 2');
    expect(text).toContain('phudge_batch_seconds_sum 0.3');
    expect(text).toContain('phudge_batch_seconds_bucket{le="0.05"} 1');
    expect(text).toContain('phudge_batch_tokens_sum 500');
    expect(text).toContain('phudge_padding_efficiency 0.8');
  });
});
