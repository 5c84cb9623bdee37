import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquet } from '../../../test/support/duckdb.js';
import { type LmsysNight, writeLmsysNight } from '../../../test/support/lmsys.js';
import { REPO_ROOT } from '../../../test/support/paths.js';

const BIN = join(REPO_ROOT, 'services/cli/bin/phudge.js');

let dir: string;
let night: LmsysNight;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grade-logs-'));
  night = await writeLmsysNight(join(dir, 'logs'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a command line in a shell in `dir`, as a user types it (the shell expands the globs). */
function shell(line: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], { cwd: dir, env: { ...process.env, PHUDGE_THREADS: '1' } });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('phudge grade on a night of logs', () => {
  it('phudge grade logs/*.jsonl.gz --preset lmsys -o out.parquet grades every line into Parquet', async () => {
    const run = await shell(
      `"${process.execPath}" "${BIN}" grade logs/*.jsonl.gz --preset lmsys -o out.parquet`,
    );
    expect(run.stderr).toContain('graded 18 items');
    expect(run.code).toBe(0);
    const rows = await readParquet(join(dir, 'out.parquet'));
    const expected = night.expected.filter((item) => item.file.endsWith('.gz'));
    expect(rows.map((row) => [row.source, Number(row.line), row.error_code ?? null])).toEqual(
      expected.map((item) => [`logs/${item.file}`, item.line, item.error ?? null]),
    );
    const graded = rows.find((row) => row.id === 'conv-5');
    expect(graded).toMatchObject({ model: 'tiny-judge@0.1.0', template: 'phudge', truncated: false });
    expect(JSON.parse(graded?.metadata as string)).toEqual({ model: 'vicuna-13b', language: 'English' });
  });

  it('takes a quoted glob, a custom --map and --rubrics: one row per item and rubric, summed per rubric', async () => {
    const map = [
      '--map id=conversation_id',
      `--map 'instruction=conversation[0].content'`,
      `--map 'response=conversation[-1].content'`,
      '--map metadata.language=language',
    ].join(' ');
    const run = await shell(
      `"${process.execPath}" "${BIN}" grade 'logs/*.parquet' logs/2026-12-01-a.jsonl.gz ${map} --rubrics helpfulness,honesty --format parquet -o rubrics.out`,
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/helpfulness: mean [\d.]+ over \d+ scores/);
    const rows = await readParquet(join(dir, 'rubrics.out'));
    const expected = night.expected
      .filter((item) => item.file.endsWith('.parquet') || item.file === '2026-12-01-a.jsonl.gz')
      .flatMap((item) => ['helpfulness', 'honesty'].map((rubric) => ({ ...item, rubric })));
    expect(rows.map((row) => [row.source, Number(row.line), row.rubric])).toEqual(
      expected.map((item) => [`logs/${item.file}`, item.line, item.rubric]),
    );
    const bad = rows.filter((row) => row.error_code !== null && String(row.source).endsWith('.parquet'));
    expect(bad.map((row) => [Number(row.line), row.id, row.error_message])).toEqual([
      [3, 'conv-20', 'missing field: instruction (map: "conversation[0].content" found nothing)'],
      [3, 'conv-20', 'missing field: instruction (map: "conversation[0].content" found nothing)'],
      [7, 'conv-24', 'missing field: instruction (map: "conversation[0].content" found nothing)'],
      [7, 'conv-24', 'missing field: instruction (map: "conversation[0].content" found nothing)'],
    ]);
  });

  it('refuses a map expression that does not parse, naming it, with status 2', async () => {
    const run = await shell(
      `"${process.execPath}" "${BIN}" grade logs/*.gz --map 'response=conversation[' -o x.jsonl`,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('map.response: "conversation[" is not a JMESPath expression');
  });
});
