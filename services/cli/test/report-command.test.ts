import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createS3Client, type RunSummary, S3ObjectStore } from '@phudge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/paths.js';
import { startS3rver, type TestS3 } from '../../../test/support/s3rver.js';

const BIN = join(REPO_ROOT, 'services/cli/bin/phudge.js');
const run = promisify(execFile);

/** Runs phudge; a non-zero exit rejects with the process's stderr on the error. */
function phudge(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
}

/** The counts a report shows: its items card, its errors sentence, its mean and its histogram shares. */
function countsIn(html: string) {
  const errors = /<p>(\d+) of (\d+) items/.exec(html);
  return {
    items: Number(/items<b>(\d+)<\/b>/.exec(html)?.[1]),
    errors: Number(errors?.[1]),
    errorsOf: Number(errors?.[2]),
    mean: /mean score<b>([\d.]+)/.exec(html)?.[1],
    shares: [...html.matchAll(/<title>score (\d): ([\d.]+)%<\/title>/g)].map((m) => `${m[1]}:${m[2]}`),
  };
}

/** What the report of a run with this summary must show. */
function expectedCounts(summary: RunSummary) {
  const scored = Object.values(summary.histogram).reduce((a, b) => a + b, 0);
  return {
    items: summary.items,
    errors: summary.errors,
    errorsOf: summary.items,
    mean: summary.meanScore?.toFixed(3),
    shares: Object.entries(summary.histogram).map(([bin, n]) => `${bin}:${((100 * n) / scored).toFixed(1)}`),
  };
}

describe('phudge report from results', () => {
  let dir: string;
  let lines: string[];
  /** What phudge grade itself counted while grading (its --summary), the reference for every form. */
  let graded: RunSummary;

  /** Writes the results as parts of `size` lines each (as the fleet's part-N.jsonl) under `folder`. */
  async function writeParts(folder: string, size: number): Promise<void> {
    await mkdir(folder, { recursive: true });
    for (let start = 0, part = 0; start < lines.length; start += size, part++) {
      await writeFile(join(folder, `part-${part}.jsonl`), `${lines.slice(start, start + size).join('\n')}\n`);
    }
  }

  async function reportOf(input: string, env?: Record<string, string>): Promise<ReturnType<typeof countsIn>> {
    const output = join(dir, `report-${Math.random().toString(36).slice(2)}.html`);
    await phudge(['report', input, '-o', output], env);
    return countsIn(await readFile(output, 'utf8'));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'report-command-'));
    // A folder that does not exist yet, as a user would type it.
    await phudge([
      'grade',
      'examples/chatlogs.jsonl',
      '-o',
      join(dir, 'run/results.jsonl'),
      '--summary',
      join(dir, 'graded-summary.json'),
    ]);
    graded = JSON.parse(await readFile(join(dir, 'graded-summary.json'), 'utf8'));
    lines = (await readFile(join(dir, 'run/results.jsonl'), 'utf8')).trim().split('\n');
    // The examples hold bad lines and pairs, so every kind of count is exercised.
    expect(graded.errors).toBeGreaterThan(0);
    expect(graded.winners).toBeDefined();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('counts a results JSONL file as phudge grade did', async () => {
    expect(await reportOf(join(dir, 'run/results.jsonl'))).toEqual(expectedCounts(graded));
  });

  it('counts the folder phudge grade -o DIR/results.jsonl wrote', async () => {
    expect(await reportOf(join(dir, 'run'))).toEqual(expectedCounts(graded));
  });

  it('counts every part of a folder of results parts, and of a run folder results/ only', async () => {
    await writeParts(join(dir, 'parts'), 7);
    expect(await reportOf(join(dir, 'parts'))).toEqual(expectedCounts(graded));

    // A fleet run folder downloaded as is: the chunks beside results/ are inputs, not results.
    const runFolder = join(dir, 'runs/r1');
    await writeParts(join(runFolder, 'results'), 16);
    await mkdir(join(runFolder, 'chunks'), { recursive: true });
    await writeFile(
      join(runFolder, 'chunks/chunk-0.jsonl'),
      await readFile(join(REPO_ROOT, 'examples/chatlogs.jsonl')),
    );
    expect(await reportOf(runFolder)).toEqual(expectedCounts(graded));
  });

  it('prefers a summary.json to the results beside it', async () => {
    const runFolder = join(dir, 'with-summary');
    await writeParts(join(runFolder, 'results'), 16);
    const other = { ...graded, items: 123_456 };
    await writeFile(join(runFolder, 'summary.json'), JSON.stringify(other));
    expect((await reportOf(runFolder)).items).toBe(123_456);
  });

  it('names the file and line of a line that is not a result record', async () => {
    await expect(
      phudge(['report', 'examples/chatlogs.jsonl', '-o', join(dir, 'x.html')]),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/line 1 of .*examples\/chatlogs\.jsonl is not a result record/),
    });
  });

  describe('on S3', () => {
    let s3: TestS3;
    beforeAll(async () => {
      s3 = await startS3rver();
      const store = new S3ObjectStore(
        `s3://${s3.bucket}/fleet`,
        createS3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' }),
      );
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
      // 13 parts: S3's key order (part-10 before part-2) is not the chunks' order, and needs not be.
      for (let start = 0, part = 0; start < lines.length; start += 4, part++) {
        await store.put(
          `runs/r1/results/part-${part}.jsonl`,
          `${lines.slice(start, start + 4).join('\n')}\n`,
        );
      }
      await store.put(
        'runs/r1/chunks/chunk-0.jsonl',
        await readFile(join(REPO_ROOT, 'examples/chatlogs.jsonl')),
      );
      await store.close();
    });
    afterAll(() => s3?.close());

    it('counts a fleet run prefix and its results/ prefix as phudge grade did', async () => {
      expect(await reportOf(`s3://${s3.bucket}/fleet/runs/r1`, s3.env)).toEqual(expectedCounts(graded));
      expect(await reportOf(`s3://${s3.bucket}/fleet/runs/r1/results/`, s3.env)).toEqual(
        expectedCounts(graded),
      );
    });
  });
});
