import { describe, expect, it } from 'vitest';
import { etaSeconds } from '../src/api.js';
import type { RunRecord } from '../src/run-store.js';

const createdAt = Date.parse('2026-12-02T02:00:00Z');
const run = (fields: Partial<RunRecord>): RunRecord =>
  ({ runId: 'r', state: 'running', createdAt, done: 0, ...fields }) as RunRecord;

describe('etaSeconds', () => {
  it('is the time the items left take at the pace so far', () => {
    // 250 of 1,000 items in 100 s: 750 more at 2.5 items/s.
    expect(etaSeconds(run({ items: 1000, done: 250 }), createdAt + 100_000)).toBe(300);
  });

  it('is null before the first results, while the total is unknown, and once the run ended', () => {
    const later = createdAt + 60_000;
    expect(etaSeconds(run({ items: 1000, done: 0 }), later)).toBeNull();
    expect(etaSeconds(run({ done: 500 }), later)).toBeNull(); // still ingesting
    expect(etaSeconds(run({ items: 1000, done: 1000, state: 'completed' }), later)).toBeNull();
    expect(etaSeconds(run({ items: 1000, done: 400, state: 'cancelled' }), later)).toBeNull();
  });
});
