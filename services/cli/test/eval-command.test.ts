import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/paths.js';

const BIN = join(REPO_ROOT, 'services/cli/bin/phudge.js');

function phudgeEval(args: string[]): string {
  return execFileSync(process.execPath, [BIN, 'eval', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PHUDGE_THREADS: '1' },
  });
}

describe('phudge eval', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['vicuna', 'Pearson', '| PHUDGE (published) | 0.410 |'],
    ['hhh', 'Accuracy', '| PHUDGE (published) | 0.830 |'],
    ['pandalm', 'Accuracy', '| Prometheus 13B (published) | 0.680 |'],
  ])(
    'runs on the %s set with published figures beside the measured ones',
    async (name, metric, published) => {
      const out = join(dir, name);
      const markdown = phudgeEval([name, '--limit', '6', '-o', out]);
      expect(markdown).toContain(`| Evaluator | ${metric}`);
      expect(markdown).toContain(published);
      expect(markdown).toMatch(/\| tiny-judge@0\.1\.0 \(measured, n=6\) \| /);
      expect(markdown).toContain('untrained test judge: these figures mean nothing');
      const results = (await readFile(join(out, 'results.jsonl'), 'utf8')).trim().split('\n');
      expect(results).toHaveLength(6);
      expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('<table>');
    },
  );

  it('evaluates a labelled file of scores: correlations against the labels', async () => {
    const file = join(dir, 'scored.jsonl');
    const rows = Array.from({ length: 12 }, (_, i) => ({
      id: `s${i}`,
      instruction: `Question ${i}?`,
      response: `Answer ${'detail '.repeat(i)}`,
      label: 1 + (i % 5),
    }));
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const markdown = phudgeEval([file, '-o', join(dir, 'scored')]);
    expect(markdown).toMatch(/\| tiny-judge@0\.1\.0 \(measured, n=12\) \| -?\d\.\d{3} \[/);
    const first = JSON.parse(
      (await readFile(join(dir, 'scored', 'results.jsonl'), 'utf8')).split('\n')[0] as string,
    );
    expect(first).toMatchObject({ id: 's0', label: { score: 1 } });
  });

  it('evaluates a labelled file of winners: accuracy with the tie rule stated', async () => {
    const file = join(dir, 'pairs.jsonl');
    const rows = Array.from({ length: 8 }, (_, i) => ({
      instruction: `Task ${i}`,
      responses: ['short', 'a much longer answer'],
      winner: (['A', 'B', 'tie'] as const)[i % 3],
    }));
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const markdown = phudgeEval([file, '-o', join(dir, 'pairs')]);
    expect(markdown).toContain('| Evaluator | Accuracy |');
    expect(markdown).toContain("Ties: 3-way accuracy: the judge's A, B or tie against the label.");
  });

  it('refuses a labelled file without labels, naming the line', async () => {
    const file = join(dir, 'unlabelled.jsonl');
    await writeFile(file, `${JSON.stringify({ instruction: 'Q', response: 'A' })}\n`);
    expect(() => phudgeEval([file])).toThrow(/line 1: needs a numeric label or a winner/);
  });
});
