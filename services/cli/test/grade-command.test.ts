import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/paths.js';

const BIN = join(REPO_ROOT, 'services/cli/bin/phudge.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function phudge(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PHUDGE_THREADS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const GOOD_AND_BAD = [
  JSON.stringify({ id: 'ok-1', instruction: 'What is 2+2?', response: '4' }),
  JSON.stringify({ id: 'bad-1', instruction: 'No response here' }),
  '',
  '{"id": "bad-2", "instruction": "cut off',
  JSON.stringify({ id: 'pair-1', question: 'Say hi', responses: ['hi', 'hello there, friend'] }),
  JSON.stringify({
    id: 'chat-1',
    messages: [
      { role: 'user', content: 'Hi?' },
      { role: 'assistant', content: 'Hello!' },
    ],
  }),
].join('\n');

describe('phudge grade', () => {
  let dir: string;
  let input: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phudge-cli-'));
    input = join(dir, 'input.jsonl');
    await writeFile(input, `${GOOD_AND_BAD}\n`);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes one result per non-blank line in input order, error records for bad lines, and exits 0', async () => {
    const output = join(dir, 'results.jsonl');
    const summaryFile = join(dir, 'summary.json');
    const run = await phudge(['grade', input, '-o', output, '--summary', summaryFile]);
    expect(run.code).toBe(0);
    const records = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    // Unparseable JSON has no id to echo: its line number identifies it.
    expect(records.map((r) => r.id)).toEqual(['ok-1', 'bad-1', undefined, 'pair-1', 'chat-1']);
    expect(records[0]).toMatchObject({ truncated: false, model: 'tiny-judge@0.1.0' });
    expect(records[1]).toMatchObject({ line: 2, error: { code: 'invalid_input' } });
    expect(records[2]).toMatchObject({ line: 4, error: { code: 'invalid_json' } });
    expect(records[3].scores).toHaveLength(2);
    expect(['A', 'B', 'tie']).toContain(records[3].winner);

    const summary = JSON.parse(await readFile(summaryFile, 'utf8'));
    expect(summary).toMatchObject({
      items: 5,
      graded: 3,
      errors: 2,
      errorCodes: { invalid_input: 1, invalid_json: 1 },
    });
    expect(run.stderr).toContain('untrained test model');
    expect(run.stderr).toMatch(/graded 5 items in .* 3 scored, 2 errors/);
  });

  it('exits 3 with --strict when a line was bad, still writing every result', async () => {
    const run = await phudge(['grade', input, '--strict']);
    expect(run.code).toBe(3);
    expect(run.stdout.trim().split('\n')).toHaveLength(5);
  });

  it('reads stdin when the input is -', async () => {
    const run = await phudge(['grade', '-'], `${JSON.stringify({ instruction: 'Q', response: 'A' })}\n`);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ id: 'line-1' });
  });

  it('fails with a clear message and status 1 for a missing input file', async () => {
    const run = await phudge(['grade', join(dir, 'nope.jsonl')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot read input ${join(dir, 'nope.jsonl')}`);
  });

  it('fails with a clear message and status 1 for a missing model', async () => {
    const run = await phudge(['grade', input, '--model', join(dir, 'no-model')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('missing judge.json');
  });

  it('rejects a bad flag value with usage and status 2', async () => {
    const run = await phudge(['grade', input, '--mode', 'sideways']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--mode must be absolute or relative');
  });

  it('applies --rubric to lines without one', async () => {
    const run = await phudge(
      ['grade', '-', '--rubric', 'honesty'],
      `${JSON.stringify({ instruction: 'Q', response: 'A' })}\n`,
    );
    expect(JSON.parse(run.stdout)).toMatchObject({ rubric: 'honesty' });
  });
});
