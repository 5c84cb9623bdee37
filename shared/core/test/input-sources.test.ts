import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LmsysNight, writeLmsysNight } from '../../../test/support/lmsys.js';
import { startS3rver, type TestS3 } from '../../../test/support/s3rver.js';
import {
  type InputRecord,
  type InputSet,
  ItemBuilder,
  loadConfig,
  openStore,
  pattern,
  readRecords,
  resolveInputs,
  UnrecoverableError,
} from '../src/index.js';

let dir: string;
let night: LmsysNight;
let s3: TestS3;
const s3Settings = { endpoint: '', forcePathStyle: true, region: 'us-east-1' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inputs-'));
  // 2100 Parquet rows: DuckDB writes them as two row groups (2048 + 52).
  night = await writeLmsysNight(join(dir, 'logs', '2026-12-01'), 2100);
  await writeFile(join(dir, 'logs', '2026-12-01', '_SUCCESS'), '');
  s3 = await startS3rver('logs');
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  s3Settings.endpoint = s3.endpoint;
  const store = openStore(loadConfig({}, { ...s3.env, PHUDGE_STORE_URL: 's3://logs' }));
  for (const file of [...night.files, '_SUCCESS'])
    await store.put(`2026-12-01/${file}`, await readFile(join(dir, 'logs', '2026-12-01', file)));
  await store.put('2026-12-02/other.jsonl', '{}\n');
  await store.close();
});
afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

async function recordsOf(inputs: InputSet): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  try {
    for (const file of inputs.files) for await (const batch of readRecords(file)) out.push(...batch);
  } finally {
    await inputs.close();
  }
  return out;
}

describe('input sources and formats', () => {
  it('expands a store prefix to its data files, sorted by key, skipping markers like _SUCCESS', async () => {
    const inputs = await resolveInputs(['s3://logs/2026-12-01/'], { s3: s3Settings });
    expect(inputs.files.map((file) => file.source)).toEqual(night.files.map((file) => `2026-12-01/${file}`));
    await inputs.close();
  });

  it('expands a glob within one folder only', async () => {
    const inputs = await resolveInputs(['s3://logs/2026-12-0?/*.jsonl.gz'], { s3: s3Settings });
    expect(inputs.files.map((file) => file.source)).toEqual(
      night.files.slice(0, 3).map((f) => `2026-12-01/${f}`),
    );
    await inputs.close();
    expect(pattern('a/**/x.jsonl').matches('a/b/c/x.jsonl')).toBe(true);
    expect(pattern('a/*.jsonl').matches('a/b/x.jsonl')).toBe(false);
  });

  it('numbers records per file from 1, in gzip and in Parquet row groups, read from the store', async () => {
    const records = await recordsOf(await resolveInputs(['s3://logs/2026-12-01/'], { s3: s3Settings }));
    expect(records.map(({ source, line }) => [source, line])).toEqual(
      night.expected.map(({ file, line }) => [`2026-12-01/${file}`, line]),
    );
    const badJson = records.find((record) => 'error' in record);
    expect(badJson).toMatchObject({ source: '2026-12-01/2026-12-01-a.jsonl.gz', line: 2 });
    const last = records.at(-1) as { value: { conversation_id: string; turn: number } };
    expect(last.value).toMatchObject({ conversation_id: night.expected.at(-1)?.id, turn: 1 });
  });

  it('reads local files, folders and globs the same way, each file once', async () => {
    const folder = join(dir, 'logs', '2026-12-01');
    const inputs = await resolveInputs(
      [join(folder, '*.gz'), `${folder}/`, join(folder, '2026-12-01-a.jsonl.gz')],
      { s3: s3Settings },
    );
    expect(inputs.files.map((file) => file.source)).toEqual(night.files.map((file) => join(folder, file)));
    const records = await recordsOf(inputs);
    expect(records).toHaveLength(night.expected.length);
  });

  it('refuses an input that does not exist or a prefix that matches nothing, naming it', async () => {
    await expect(resolveInputs([join(dir, 'missing.jsonl')], { s3: s3Settings })).rejects.toThrow(
      UnrecoverableError,
    );
    await expect(resolveInputs(['s3://logs/2026-11-30/'], { s3: s3Settings })).rejects.toThrow(
      /no input file matches s3:\/\/logs\/2026-11-30\//,
    );
    await expect(resolveInputs(['s3://logs/2026-12-01/nope.jsonl'], { s3: s3Settings })).rejects.toThrow(
      /cannot read input s3:\/\/logs\/2026-12-01\/nope.jsonl/,
    );
  });

  it('reads a plain .jsonl and a bare .gz, counting blank lines in the numbering', async () => {
    const plain = join(dir, 'plain');
    await mkdir(plain, { recursive: true });
    await writeFile(join(plain, 'a.jsonl'), '{"id":1}\n\n{"id":2}\n');
    await writeFile(join(plain, 'b.gz'), gzipSync('\n{"id":3}'));
    const records = await recordsOf(await resolveInputs([`${plain}/`], { s3: s3Settings }));
    expect(records.map((r) => [r.source?.slice(plain.length + 1), r.line])).toEqual([
      ['a.jsonl', 1],
      ['a.jsonl', 3],
      ['b.gz', 2],
    ]);
  });
});

describe('items from LMSYS-shaped records', () => {
  it('maps with the lmsys preset and grades every item once per rubric; bad rows become error records', async () => {
    const items = new ItemBuilder({ preset: 'lmsys', rubrics: ['helpfulness', 'honesty'] });
    const records = await recordsOf(
      await resolveInputs([join(dir, 'logs', '2026-12-01', '*.gz')], { s3: s3Settings }),
    );
    const entries = records.flatMap((record) => items.entries(record));
    expect(entries).toHaveLength(records.length * 2);
    const good = entries.find((entry) => 'request' in entry && entry.request.id === 'conv-5');
    expect(good).toMatchObject({
      line: 6,
      request: {
        id: 'conv-5',
        metadata: { model: 'vicuna-13b', language: 'English' },
        rubric: 'helpfulness',
      },
    });
    const errors = entries.filter((entry) => 'error' in entry);
    expect(
      errors.map((e) => [
        'error' in e && e.error.code,
        e.source?.split('/').at(-1),
        e.line,
        'rubric' in e && e.rubric,
      ]),
    ).toEqual(
      night.expected
        .filter((item) => item.error && item.file.endsWith('.gz'))
        .flatMap((item) =>
          ['helpfulness', 'honesty'].map((rubric) => [item.error, item.file, item.line, rubric]),
        ),
    );
    const unmapped = errors.find((entry) => 'error' in entry && entry.id === 'conv-9');
    expect(unmapped).toMatchObject({
      error: { message: 'missing field: messages (map: "conversation" found nothing)' },
    });
  });
});
