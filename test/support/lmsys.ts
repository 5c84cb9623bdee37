import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { duckdb } from './duckdb.js';

/** One row of the night as the tests expect it back: graded, or an error naming its source and line. */
export interface ExpectedItem {
  /** The file's name inside the night's folder. */
  file: string;
  line: number;
  /** The conversation id, where the row has one. */
  id?: string;
  /** The error code a bad row must become. */
  error?: string;
}

/** A night of chat logs in the LMSYS-Chat-1M shape: several files, a few bad rows. */
export interface LmsysNight {
  /** File names, in the order a listing sorts them. */
  files: string[];
  expected: ExpectedItem[];
}

function conversation(i: number, turns = 1) {
  const messages = [];
  for (let t = 0; t < turns; t++) {
    messages.push({ content: `Question ${i}.${t}: how do I sort a list in Python?`, role: 'user' });
    messages.push({ content: `Answer ${i}.${t}: use sorted(items) or items.sort().`, role: 'assistant' });
  }
  return messages;
}

function row(i: number, turns = 1) {
  return {
    conversation_id: `conv-${i}`,
    model: i % 2 ? 'vicuna-13b' : 'llama-2-13b-chat',
    conversation: conversation(i, turns),
    turn: turns,
    language: i % 3 ? 'English' : 'German',
  };
}

/**
 * Writes 3 `.jsonl.gz` files of 6 lines and 1 `.parquet` file of `parquetRows` rows (written by
 * DuckDB, in row groups of 2048 rows) into `dir`, LMSYS-shaped, with bad rows among them: a line
 * that is not JSON, a row without its conversation (twice in the Parquet file: row 3 and the
 * next-to-last row), a conversation with no assistant turn.
 */
export async function writeLmsysNight(dir: string, parquetRows = 8): Promise<LmsysNight> {
  await mkdir(dir, { recursive: true });
  const expected: ExpectedItem[] = [];
  let next = 0;
  const jsonl = async (file: string, bad: Map<number, string>) => {
    const lines: string[] = [];
    for (let line = 1; line <= 6; line++) {
      const i = next++;
      const kind = bad.get(line);
      if (kind === 'invalid_json') {
        lines.push('{"conversation_id": "broken", ');
        expected.push({ file, line, error: 'invalid_json' });
      } else if (kind === 'no_conversation') {
        const { conversation: _, ...rest } = row(i);
        lines.push(JSON.stringify(rest));
        expected.push({ file, line, id: `conv-${i}`, error: 'invalid_input' });
      } else if (kind === 'no_assistant') {
        lines.push(JSON.stringify({ ...row(i), conversation: [{ content: 'Hello?', role: 'user' }] }));
        expected.push({ file, line, id: `conv-${i}`, error: 'invalid_input' });
      } else {
        lines.push(JSON.stringify(row(i, 1 + (i % 3))));
        expected.push({ file, line, id: `conv-${i}` });
      }
    }
    await writeFile(join(dir, file), gzipSync(`${lines.join('\n')}\n`));
  };
  await jsonl('2026-12-01-a.jsonl.gz', new Map([[2, 'invalid_json']]));
  await jsonl('2026-12-01-b.jsonl.gz', new Map([[4, 'no_conversation']]));
  await jsonl('2026-12-01-c.jsonl.gz', new Map([[6, 'no_assistant']]));

  const source = join(dir, 'parquet-source.jsonl');
  const rows: string[] = [];
  for (let line = 1; line <= parquetRows; line++) {
    const i = next++;
    if (line === 3 || line === parquetRows - 1) {
      rows.push(JSON.stringify({ ...row(i), conversation: null }));
      expected.push({ file: '2026-12-01-d.parquet', line, id: `conv-${i}`, error: 'invalid_input' });
    } else {
      rows.push(JSON.stringify(row(i)));
      expected.push({ file: '2026-12-01-d.parquet', line, id: `conv-${i}` });
    }
  }
  await writeFile(source, `${rows.join('\n')}\n`);
  // One thread: DuckDB cuts row groups per thread, and a many-threaded COPY would write one.
  await duckdb(
    `SET threads = 1; COPY (SELECT * FROM read_json('${source}', format = 'newline_delimited', columns = {conversation_id: 'VARCHAR', model: 'VARCHAR', conversation: 'STRUCT(content VARCHAR, role VARCHAR)[]', turn: 'INTEGER', language: 'VARCHAR'})) ` +
      `TO '${join(dir, '2026-12-01-d.parquet')}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)`,
  );
  await rm(source);
  return {
    files: [
      '2026-12-01-a.jsonl.gz',
      '2026-12-01-b.jsonl.gz',
      '2026-12-01-c.jsonl.gz',
      '2026-12-01-d.parquet',
    ],
    expected,
  };
}
