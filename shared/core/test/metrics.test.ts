import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/paths.js';
import {
  bootstrap,
  kendallTau,
  ksStatistic,
  meanAbsoluteError,
  pearson,
  ranks,
  spearman,
} from '../src/index.js';

/** Values computed with scipy by test/fixtures/make_metrics_fixtures.py. */
interface Case {
  x: number[];
  y: number[];
  pearson: number;
  spearman: number;
  kendall_tau_b: number;
  mae: number;
  ks: number;
  ranks_x: number[];
}
const cases: Case[] = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/metrics.json'), 'utf8'));

describe.each(cases.map((c) => [`n=${c.x.length}`, c] as const))('metrics against scipy (%s)', (_, c) => {
  it('ranks ties as scipy.stats.rankdata', () => expect(ranks(c.x)).toEqual(c.ranks_x));
  it('Pearson', () => expect(pearson(c.x, c.y)).toBeCloseTo(c.pearson, 10));
  it('Spearman', () => expect(spearman(c.x, c.y)).toBeCloseTo(c.spearman, 10));
  it("Kendall's tau-b", () => expect(kendallTau(c.x, c.y)).toBeCloseTo(c.kendall_tau_b, 10));
  it('MAE', () => expect(meanAbsoluteError(c.x, c.y)).toBeCloseTo(c.mae, 10));
  it('Kolmogorov-Smirnov statistic', () => expect(ksStatistic(c.x, c.y)).toBeCloseTo(c.ks, 10));
});

describe('bootstrap interval', () => {
  const c = cases[2] as Case;
  it('brackets the statistic and is reproducible with its seed', () => {
    const first = bootstrap(pearson, c.x, c.y);
    expect(first.value).toBeCloseTo(c.pearson, 10);
    expect(first.low).toBeLessThan(first.value);
    expect(first.high).toBeGreaterThan(first.value);
    expect(bootstrap(pearson, c.x, c.y)).toEqual(first);
  });
  it('narrows as the sample grows', () => {
    const small = cases[1] as Case;
    const wide = bootstrap(pearson, small.x, small.y);
    const narrow = bootstrap(pearson, c.x, c.y);
    expect(narrow.high - narrow.low).toBeLessThan(wide.high - wide.low);
  });
});
