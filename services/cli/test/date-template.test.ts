import { describe, expect, it } from 'vitest';
import { expandDatePlaceholders } from '../src/date-template.js';

describe('input URI date placeholders', () => {
  it('fills {today} and {yesterday} with UTC dates, every occurrence', () => {
    const now = new Date('2026-03-01T00:30:00Z');
    expect(expandDatePlaceholders('s3://logs/{yesterday}/part-{yesterday}.jsonl', now)).toBe(
      's3://logs/2026-02-28/part-2026-02-28.jsonl',
    );
    expect(expandDatePlaceholders('file:///data/{today}.jsonl', now)).toBe('file:///data/2026-03-01.jsonl');
  });

  it('uses the UTC day, not the local one, just before midnight UTC', () => {
    const now = new Date('2026-12-31T23:59:59.999Z');
    expect(expandDatePlaceholders('{today} {yesterday}', now)).toBe('2026-12-31 2026-12-30');
  });

  it("leaves other braces alone, such as a glob's alternatives", () => {
    expect(expandDatePlaceholders('s3://logs/{a,b}/*.jsonl', new Date())).toBe('s3://logs/{a,b}/*.jsonl');
  });
});
