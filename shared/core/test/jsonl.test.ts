import { describe, expect, it } from 'vitest';
import { jsonlBatches, type NumberedLine } from '../src/index.js';

async function linesOf(pieces: (Buffer | string)[]): Promise<NumberedLine[]> {
  async function* stream() {
    yield* pieces;
  }
  const lines: NumberedLine[] = [];
  for await (const batch of jsonlBatches(stream())) lines.push(...batch);
  return lines;
}

/** The bytes of a text cut at every offset in `cuts`, as a stream would hand them over. */
function cut(text: string, cuts: number[]): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const ends = [...cuts, bytes.length];
  return ends.map((end, i) => bytes.subarray(i === 0 ? 0 : (ends[i - 1] as number), end));
}

describe('jsonlBatches', () => {
  it('keeps a character whose bytes are split between two reads whole', async () => {
    const text = '{"q":"héllo ✓ 😀"}\n{"q":"second"}\n';
    const bytes = Buffer.from(text, 'utf8');
    // Every cut inside the line, so that each multi-byte character is split at each of its bytes.
    for (let at = 1; at < bytes.indexOf('\n'); at++) {
      const lines = await linesOf(cut(text, [at]));
      expect(lines).toEqual([
        { line: 1, text: '{"q":"héllo ✓ 😀"}' },
        { line: 2, text: '{"q":"second"}' },
      ]);
    }
  });

  it('drops a leading byte order mark, numbers lines from 1 past blank ones, and strips CR', async () => {
    const lines = await linesOf(cut('\uFEFF{"a":1}\r\n\n  \n{"a":2}', [2, 9]));
    expect(lines).toEqual([
      { line: 1, text: '{"a":1}' },
      { line: 4, text: '{"a":2}' },
    ]);
  });
});
