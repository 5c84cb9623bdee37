import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchScheduler, DrainingError, decodeScores, type Engine } from '../src/index.js';
import { startTinyEngine } from './tiny-engine.js';

describe('batch scheduler', () => {
  let engine: Engine;
  const scheduler = () =>
    new BatchScheduler(engine, {
      maxBatchTokens: 4096,
      maxBatchSize: 64,
      padId: 4000,
      paddingSide: 'left',
      decode: (logits, rows) => decodeScores({ head: 'regression', scoreRange: [-100, 100] }, logits, rows),
    });
  const job = (seed: number) => [
    [1, 10 + seed, 20 + seed, 30 + seed],
    [1, 40 + seed, 50 + seed],
  ];

  beforeAll(async () => {
    engine = await startTinyEngine();
  });
  afterAll(() => engine?.close());

  it('mixes the prompts of jobs that wait together into one model batch', async () => {
    const mixed = scheduler();
    // Two batches go to the engine at once; the jobs that arrive meanwhile share the next one.
    const results = await Promise.all([1, 2, 3, 4].map((seed) => mixed.score(job(seed))));
    expect(mixed.stats).toMatchObject({ batches: 3, prompts: 8 });

    const alone = scheduler();
    for (const [i, seed] of [1, 2, 3, 4].entries()) {
      const scores = await alone.score(job(seed));
      for (const [j, score] of scores.entries())
        expect(score.score).toBeCloseTo(results[i]?.[j]?.score as number, 4);
    }
  });

  it('on drain, finishes batches on the engine and refuses the rest', async () => {
    const draining = scheduler();
    const first = draining.score(job(1));
    const second = draining.score(job(2));
    const third = draining.score(job(3)).catch((error: unknown) => error);
    draining.drain();
    await expect(first).resolves.toHaveLength(2);
    await expect(second).resolves.toHaveLength(2);
    expect(await third).toBeInstanceOf(DrainingError);
    await expect(draining.score(job(4))).rejects.toBeInstanceOf(DrainingError);
  });
});
