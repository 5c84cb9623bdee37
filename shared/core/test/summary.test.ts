import { describe, expect, it } from 'vitest';
import {
  type ResultRecord,
  SummaryBuilder,
  type SummaryCounters,
  summaryFromCounters,
} from '../src/index.js';

/** What the collector's Redis script does with each chunk's counters: add them field by field. */
function mergeCounters(into: SummaryCounters, more: SummaryCounters): SummaryCounters {
  for (const [key, value] of Object.entries(more)) into[key] = (into[key] ?? 0) + value;
  return into;
}

const records: ResultRecord[] = [
  {
    id: 'a',
    score: 4.6,
    truncated: false,
    tokens: 10,
    model: 'm',
    rubric: 'honesty',
    metadata: { channel: 'web' },
  },
  {
    id: 'b',
    score: 2.2,
    truncated: true,
    tokens: 10,
    model: 'm',
    rubric: 'honesty',
    metadata: { channel: 'app' },
  },
  {
    id: 'c',
    score: 3.0,
    truncated: false,
    sanitized: true,
    tokens: 10,
    model: 'm',
    metadata: { channel: 'web' },
  },
  { id: 'p', scores: [4, 1.4], winner: 'A', truncated: false, tokens: 20, model: 'm' },
  { line: 9, error: { code: 'invalid_input', message: 'missing field: response' } },
];

function rounded(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (_, v) => (typeof v === 'number' ? Number(v.toFixed(9)) : v));
}

describe('run summary', () => {
  it('counts items, errors, truncation, scores, winners and error codes', () => {
    const builder = new SummaryBuilder(['channel']);
    for (const record of records) builder.add(record);
    const summary = builder.build();
    expect(summary).toMatchObject({
      items: 5,
      graded: 4,
      errors: 1,
      truncated: 1,
      sanitized: 1,
      histogram: { '1': 1, '2': 1, '3': 1, '4': 1, '5': 1 },
      winners: { A: 1, B: 0, tie: 0 },
      errorCodes: { invalid_input: 1 },
    });
    expect(summary.meanScore).toBeCloseTo((4.6 + 2.2 + 3 + 4 + 1.4) / 5, 10);
  });

  it('breaks scores down per rubric and per named metadata key', () => {
    const builder = new SummaryBuilder(['channel']);
    for (const record of records) builder.add(record);
    const { rubrics, segments } = builder.build();
    expect(rubrics.honesty?.count).toBe(2);
    expect(rubrics.honesty?.mean).toBeCloseTo(3.4, 10);
    expect(rubrics.honesty?.std).toBeCloseTo(Math.sqrt(((4.6 - 3.4) ** 2 + (2.2 - 3.4) ** 2) / 1), 10);
    expect(Object.keys(segments.channel ?? {}).sort()).toEqual(['app', 'web']);
    expect(segments.channel?.web?.mean).toBeCloseTo(3.8, 10);
  });

  it('gives the same summary from chunk counters merged in any order', () => {
    const whole = new SummaryBuilder(['channel']);
    const first = new SummaryBuilder(['channel']);
    const second = new SummaryBuilder(['channel']);
    records.forEach((record, i) => {
      whole.add(record);
      (i < 2 ? first : second).add(record);
    });
    const merged = mergeCounters(mergeCounters({}, second.counters), first.counters);
    // Sums in another order differ in the last bits of a float; round before comparing.
    expect(rounded(summaryFromCounters(merged))).toEqual(rounded(whole.build()));
  });

  it('has no mean when nothing was graded', () => {
    expect(summaryFromCounters({}).meanScore).toBeNull();
  });
});
