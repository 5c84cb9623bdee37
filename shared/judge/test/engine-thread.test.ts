import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../../../test/support/paths.js';
import { Engine, loadBundle, padBatch } from '../src/index.js';
import { startTinyEngine } from './tiny-engine.js';

describe('engine thread', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startTinyEngine();
  });
  afterAll(() => engine?.close());

  it('keeps the main event loop ticking while a long batch runs', async () => {
    const long = Array.from({ length: 4 }, () => Array.from({ length: 1024 }, (_, i) => 5 + (i % 3000)));
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    const started = performance.now();
    await engine.run(padBatch(long, 0, 'left'));
    const finished = performance.now();
    clearInterval(timer);
    const during = ticks.filter((t) => t > started && t < finished);
    // A blocked loop would fire no timer at all until the batch ends.
    expect(finished - started).toBeGreaterThan(100);
    expect(during.length).toBeGreaterThanOrEqual(3);
    const gaps = during.slice(1).map((t, i) => t - (during[i] as number));
    expect(Math.max(...gaps)).toBeLessThan((finished - started) / 2);
  });

  it('runs queued batches in order and reports their logits', async () => {
    const small = (token: number) => padBatch([[1, token, token]], 0, 'left');
    const outputs = await Promise.all([engine.run(small(10)), engine.run(small(20)), engine.run(small(10))]);
    expect(outputs.map((o) => o.rows)).toEqual([1, 1, 1]);
    expect(outputs[0]?.logits[0]).toBeCloseTo(outputs[2]?.logits[0] as number, 6);
    expect(outputs[0]?.logits[0]).not.toBeCloseTo(outputs[1]?.logits[0] as number, 6);
  });

  it('fails a bad batch without taking the engine down', async () => {
    const bad = {
      rows: 1,
      columns: 2,
      inputIds: BigInt64Array.from([1n, 999999n]),
      attentionMask: BigInt64Array.from([1n, 1n]),
    };
    await expect(engine.run(bad)).rejects.toThrow(/model run failed/);
    const ok = await engine.run(padBatch([[1, 2, 3]], 0, 'left'));
    expect(ok.rows).toBe(1);
  });
});

describe('execution provider', () => {
  it('falls back to cpu with a warning when CUDA is not available', async () => {
    const bundle = await loadBundle(join(MODELS_DIR, 'tiny-judge'));
    const warnings: string[] = [];
    const engine = await Engine.start(
      {
        modelPath: bundle.modelPath,
        device: { kind: 'cuda', id: 0 },
        threads: 1,
        inputIds: 'input_ids',
        attentionMask: 'attention_mask',
        output: 'logits',
      },
      (message) => warnings.push(message),
    );
    try {
      // This machine has no GPU and the package's CUDA provider is not installed.
      expect(engine.provider).toBe('cpu');
      expect(warnings).toEqual([expect.stringContaining('falling back to cpu')]);
      expect((await engine.run(padBatch([[1, 2, 3]], 0, 'left'))).rows).toBe(1);
    } finally {
      await engine.close();
    }
  });
});
