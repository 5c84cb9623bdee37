import { describe, expect, it } from 'vitest';
import { retryAfterMs, retryDelayMs } from '../src/retry.js';

describe('retry delays', () => {
  it('reads Retry-After as seconds or an HTTP date, and retry-after-ms', () => {
    const now = Date.parse('2026-12-02T08:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 02 Dec 2026 08:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 02 Dec 2026 07:59:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });

  it('doubles the backoff per retry up to 8 s, with up to a quarter taken off at random', () => {
    expect([0, 1, 2, 3, 4, 5].map((retry) => retryDelayMs(retry, undefined, () => 0))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000,
    ]);
    expect(retryDelayMs(0, undefined, () => 1)).toBe(375);
  });

  it("takes the server's wait when it asks one, unless it asks more than a minute", () => {
    expect(retryDelayMs(0, new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryDelayMs(0, new Headers({ 'retry-after': '0' }))).toBe(0);
    expect(retryDelayMs(1, new Headers({ 'retry-after': '3600' }), () => 0)).toBe(1000);
  });
});
