import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidInputError } from '../errors.js';
import { jsonlBatches } from '../jsonl.js';
import { parseJsonLine } from '../schemas/input.js';
import { type AsyncBuffer, parquetRowGroups } from './parquet-reader.js';

/** How an input file is decoded, from its name. */
export type InputFormat = 'jsonl' | 'jsonl.gz' | 'parquet';

/**
 * One raw record, numbered from 1 within its file (items given inline have no source); a line
 * that is not JSON carries its error instead of a value.
 */
export type InputRecord =
  | { source?: string; line: number; value: unknown }
  | { source?: string; line: number; error: InvalidInputError };

/** An input file, local or in a store, opened lazily. */
export interface InputFile {
  /** What results name as their `source`: the object key, or the file's path as given. */
  source: string;
  /** Where it is: `s3://bucket/key`, `file:///path`, or `-` for stdin. */
  uri: string;
  /** Its size in bytes, when known (not stdin). */
  size?: number;
  /** A stream of its bytes from the start. */
  stream(): Promise<Readable>;
  /** Random access to its bytes (Parquet reads its footer, then one row group at a time). */
  randomAccess(): Promise<RandomAccess>;
}

/** Random access to a file's bytes, and what to let go of when done. */
export type RandomAccess = AsyncBuffer & { close?: () => Promise<void> };

/** Extensions taken when a prefix or a glob is expanded; other objects (`_SUCCESS`, `.crc`) are skipped. */
const EXTENSIONS: readonly [string, InputFormat][] = [
  ['.jsonl.gz', 'jsonl.gz'],
  ['.ndjson.gz', 'jsonl.gz'],
  ['.gz', 'jsonl.gz'],
  ['.jsonl', 'jsonl'],
  ['.ndjson', 'jsonl'],
  ['.parquet', 'parquet'],
];

/** The format an extension names, or undefined for a name with no known extension. */
export function formatOf(name: string): InputFormat | undefined {
  const lower = name.toLowerCase();
  return EXTENSIONS.find(([extension]) => lower.endsWith(extension))?.[1];
}

/**
 * The records of one file, a batch at a time, in file order. A file named without a known
 * extension is read as JSONL, as a single input always was. Memory stays bounded: JSONL is
 * streamed (gzip through zlib's streaming inflater), Parquet read one row group at a time.
 * @param onBytes told how many bytes of the file (compressed, as stored) have been read.
 */
export async function* readRecords(
  file: InputFile,
  onBytes: (bytes: number) => void = () => {},
): AsyncGenerator<InputRecord[]> {
  const format = formatOf(file.source) ?? 'jsonl';
  const { source } = file;
  if (format === 'parquet') {
    const buffer = await file.randomAccess();
    try {
      for await (const { rows, firstRow, bytes } of parquetRowGroups(buffer)) {
        onBytes(bytes);
        yield rows.map((value, i) => ({ source, line: firstRow + i + 1, value }));
      }
    } finally {
      await buffer.close?.();
    }
    return;
  }
  const raw = await file.stream();
  async function* counted(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const piece of stream) {
      onBytes(piece.length);
      yield piece;
    }
  }
  // pipeline, not pipe: a read error or a corrupt gzip stream ends the iteration with that error.
  const text = format === 'jsonl.gz' ? pipeline(raw, counted, createGunzip(), () => {}) : counted(raw);
  for await (const batch of jsonlBatches(text as AsyncIterable<Buffer>)) {
    yield batch.map(({ line, text: body }): InputRecord => {
      try {
        return { source, line, value: parseJsonLine(body) };
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        return { source, line, error };
      }
    });
  }
}
