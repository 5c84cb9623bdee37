import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdb, readParquet } from '../../../test/support/duckdb.js';
import { ParquetResultsWriter, RESULT_COLUMNS, type ResultRecord, writeParquetFiles } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parquet-results-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const provenance = { model: 'tiny-judge@0.1.0', modelSha256: '0123456789ab', template: 'phudge' };
const records: ResultRecord[] = [
  {
    id: 'a',
    source: 'logs/a.jsonl.gz',
    line: 1,
    score: 3.5,
    label: 4,
    probabilities: [0.1, 0.1, 0.2, 0.4, 0.2],
    truncated: false,
    tokens: 120,
    ...provenance,
    rubric: 'helpfulness',
    metadata: { language: 'English', turns: 2 },
  },
  {
    id: 'p',
    source: 'logs/a.jsonl.gz',
    line: 2,
    scores: [4.25, 2],
    winner: 'A',
    truncated: true,
    sanitized: true,
    tokens: 300,
    ...provenance,
  },
  {
    id: 'e',
    source: 'logs/b.parquet',
    line: 7,
    rubric: 'honesty',
    error: { code: 'invalid_input', message: 'missing field: messages' },
  },
];

async function write(path: string, values: ResultRecord[]): Promise<void> {
  const writer = new ParquetResultsWriter(createWriteStream(path));
  for (const record of values) await writer.write(record);
  await writer.close();
}

describe('Parquet results', () => {
  it('writes a typed row per record that another Parquet reader (DuckDB) reads back', async () => {
    const path = join(dir, 'typed.parquet');
    await write(path, records);
    const types = await duckdb(`DESCRIBE SELECT * FROM '${path}'`);
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
      id: 'VARCHAR',
      source: 'VARCHAR',
      line: 'BIGINT',
      rubric: 'VARCHAR',
      score: 'DOUBLE',
      label: 'INTEGER',
      probabilities: 'DOUBLE[]',
      scores: 'DOUBLE[]',
      winner: 'VARCHAR',
      truncated: 'BOOLEAN',
      sanitized: 'BOOLEAN',
      tokens: 'INTEGER',
      model: 'VARCHAR',
      model_sha256: 'VARCHAR',
      template: 'VARCHAR',
      error_code: 'VARCHAR',
      error_message: 'VARCHAR',
      metadata: 'JSON',
    });
    expect(types.map((t) => t.column_name)).toEqual(RESULT_COLUMNS);
    const [absolute, pair, error] = await readParquet(path, 'line');
    expect(absolute).toMatchObject({
      id: 'a',
      source: 'logs/a.jsonl.gz',
      line: '1',
      score: 3.5,
      label: 4,
      probabilities: [0.1, 0.1, 0.2, 0.4, 0.2],
      scores: null,
      truncated: false,
      sanitized: false,
      tokens: 120,
      model: 'tiny-judge@0.1.0',
      model_sha256: '0123456789ab',
      template: 'phudge',
      rubric: 'helpfulness',
      error_code: null,
    });
    expect(JSON.parse(absolute?.metadata as string)).toEqual({ language: 'English', turns: 2 });
    expect(pair).toMatchObject({
      scores: [4.25, 2],
      winner: 'A',
      score: null,
      truncated: true,
      sanitized: true,
    });
    expect(error).toMatchObject({
      id: 'e',
      source: 'logs/b.parquet',
      line: '7',
      rubric: 'honesty',
      error_code: 'invalid_input',
      error_message: 'missing field: messages',
      score: null,
      model: null,
    });
  });

  it('cuts files at the row limit and still writes one file, with its columns, for no records', async () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ ...(records[0] as ResultRecord), line: i + 1 }));
    async function* iterate(values: ResultRecord[]) {
      yield* values;
    }
    const paths: string[] = [];
    const open = async (index: number) => {
      const path = join(dir, `part-${index}.parquet`);
      paths.push(path);
      return { stream: createWriteStream(path), stored: Promise.resolve() };
    };
    expect(await writeParquetFiles(iterate(many), open, 10)).toEqual([10, 10, 5]);
    const rows = await readParquet(paths, 'line');
    expect(rows.map((row) => Number(row.line))).toEqual(many.map((record) => record.line));

    paths.length = 0;
    expect(await writeParquetFiles(iterate([]), open)).toEqual([0]);
    expect(await duckdb(`SELECT count(*)::INTEGER AS n FROM '${paths[0]}'`)).toEqual([{ n: 0 }]);
  });

  it('streams: a full row group reaches the stream before the file is closed', async () => {
    const stream = new PassThrough();
    let bytes = 0;
    stream.on('data', (piece: Buffer) => (bytes += piece.length));
    const writer = new ParquetResultsWriter(stream);
    for (let i = 0; i < 10_000; i++) await writer.write({ ...(records[0] as ResultRecord), line: i + 1 });
    expect(bytes).toBeGreaterThan(10_000);
    await writer.close();
  });
});
