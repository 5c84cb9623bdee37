import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { isErrorResult, type ResultRecord } from '@phudge/contracts';
import type { SchemaElement } from 'hyparquet';
import { ByteWriter, type ColumnSource, ParquetWriter } from 'hyparquet-writer';

/** Rows per Parquet file: one file stays a size every engine reads comfortably (a few hundred MB). */
export const MAX_ROWS_PER_FILE = 1_000_000;
/** Rows per row group: what the writer holds in memory before it encodes and sends them on. */
const ROW_GROUP_ROWS = 10_000;
/** Bytes the writer buffers before it hands them to the output stream. */
const FLUSH_BYTES = 1 << 20;

const text = (name: string): SchemaElement => ({
  name,
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  repetition_type: 'OPTIONAL',
});
const scalar = (name: string, type: 'INT32' | 'INT64' | 'DOUBLE' | 'BOOLEAN'): SchemaElement => ({
  name,
  type,
  repetition_type: 'OPTIONAL',
});
/** A three-level Parquet LIST of doubles, as the spec and every reader (DuckDB, Arrow, Spark) expect. */
const doubles = (name: string): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'DOUBLE', repetition_type: 'REQUIRED' },
];

/**
 * The columns of a results file, one row per result or error record. `probabilities` holds the
 * five of an absolute result, or A's five then B's for a pair; `metadata` is the item's
 * metadata as a JSON string (a Parquet JSON column).
 */
const COLUMNS: { name: string; schema: SchemaElement[]; value: (record: ResultRecord) => unknown }[] = [
  { name: 'id', schema: [text('id')], value: (r) => r.id ?? null },
  { name: 'source', schema: [text('source')], value: (r) => r.source ?? null },
  {
    name: 'line',
    schema: [scalar('line', 'INT64')],
    value: (r) => (r.line === undefined ? null : BigInt(r.line)),
  },
  { name: 'rubric', schema: [text('rubric')], value: (r) => r.rubric ?? null },
  { name: 'score', schema: [scalar('score', 'DOUBLE')], value: (r) => ('score' in r ? r.score : null) },
  {
    name: 'label',
    schema: [scalar('label', 'INT32')],
    value: (r) => ('label' in r ? (r.label ?? null) : null),
  },
  {
    name: 'probabilities',
    schema: doubles('probabilities'),
    value: (r) => {
      if (!('probabilities' in r) || !r.probabilities) return null;
      return 'scores' in r ? [...r.probabilities[0], ...r.probabilities[1]] : r.probabilities;
    },
  },
  { name: 'scores', schema: doubles('scores'), value: (r) => ('scores' in r ? r.scores : null) },
  { name: 'winner', schema: [text('winner')], value: (r) => ('winner' in r ? r.winner : null) },
  {
    name: 'truncated',
    schema: [scalar('truncated', 'BOOLEAN')],
    value: (r) => (isErrorResult(r) ? null : r.truncated),
  },
  {
    name: 'sanitized',
    schema: [scalar('sanitized', 'BOOLEAN')],
    value: (r) => (isErrorResult(r) ? null : (r.sanitized ?? false)),
  },
  { name: 'tokens', schema: [scalar('tokens', 'INT32')], value: (r) => (isErrorResult(r) ? null : r.tokens) },
  { name: 'model', schema: [text('model')], value: (r) => (isErrorResult(r) ? null : r.model) },
  {
    name: 'model_sha256',
    schema: [text('model_sha256')],
    value: (r) => (isErrorResult(r) ? null : (r.modelSha256 ?? null)),
  },
  {
    name: 'template',
    schema: [text('template')],
    value: (r) => (isErrorResult(r) ? null : (r.template ?? null)),
  },
  {
    name: 'error_code',
    schema: [text('error_code')],
    value: (r) => (isErrorResult(r) ? r.error.code : null),
  },
  {
    name: 'error_message',
    schema: [text('error_message')],
    value: (r) => (isErrorResult(r) ? r.error.message : null),
  },
  {
    name: 'metadata',
    schema: [{ ...text('metadata'), converted_type: 'JSON' }],
    // The writer encodes a JSON column's values itself.
    value: (r) => ('metadata' in r && r.metadata ? r.metadata : null),
  },
];

const SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: COLUMNS.length },
  ...COLUMNS.flatMap((column) => column.schema),
];

/** The column names of a results file, in order. */
export const RESULT_COLUMNS = COLUMNS.map((column) => column.name);

/**
 * The writer's byte buffer, emptied into a stream: every FLUSH_BYTES, and after each row group
 * (where ParquetWriter awaits `flush`, so the stream's backpressure is honoured).
 */
class StreamByteWriter extends ByteWriter {
  constructor(private readonly output: Writable) {
    super();
  }

  override ensure(size: number): void {
    if (this.index > FLUSH_BYTES) this.send();
    super.ensure(size);
  }

  async flush(): Promise<void> {
    if (!this.send()) await once(this.output, 'drain');
  }

  override finish(): void {
    this.send();
  }

  /** @returns false when the stream wants the writer to wait. */
  private send(): boolean {
    if (this.index === 0) return true;
    const ok = this.output.write(Buffer.from(this.buffer.slice(0, this.index)));
    this.index = 0;
    return ok;
  }
}

/**
 * Writes result records as one Parquet file onto a stream, a row group at a time: memory holds
 * one row group, and the stream's backpressure is honoured between groups.
 */
export class ParquetResultsWriter {
  private readonly writer: ParquetWriter;
  private rows: ResultRecord[] = [];
  /** Rows written so far, including the row group being filled. */
  count = 0;

  constructor(private readonly output: Writable) {
    this.writer = new ParquetWriter({ writer: new StreamByteWriter(output), schema: SCHEMA });
  }

  /** Adds a record; resolves once the stream has room again. */
  async write(record: ResultRecord): Promise<void> {
    this.rows.push(record);
    this.count += 1;
    if (this.rows.length >= ROW_GROUP_ROWS) await this.flushGroup();
  }

  /** Writes the last row group and the footer, and ends the stream. */
  async close(): Promise<void> {
    await this.flushGroup();
    await this.writer.finish();
    this.output.end();
    await once(this.output, 'finish');
  }

  private async flushGroup(): Promise<void> {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    const columnData: ColumnSource[] = COLUMNS.map((column) => ({
      name: column.name,
      data: rows.map(column.value) as ColumnSource['data'],
    }));
    await this.writer.write({ columnData, rowGroupSize: rows.length });
  }
}

/**
 * Writes records into Parquet files of at most `maxRows` rows each, opening the next file when
 * one is full. `open(index)` gives the stream of file `index` (from 0) and a promise that
 * settles when that file is stored; a failed store must destroy the stream with its error, so
 * that the writer stops waiting on it.
 * @returns how many rows each file got, in order.
 */
export async function writeParquetFiles(
  records: AsyncIterable<ResultRecord>,
  open: (index: number) => Promise<{ stream: Writable; stored: Promise<void> }>,
  maxRows = MAX_ROWS_PER_FILE,
): Promise<number[]> {
  const counts: number[] = [];
  let current: { writer: ParquetResultsWriter; stored: Promise<void> } | undefined;
  const finish = async () => {
    if (!current) return;
    await current.writer.close();
    await current.stored;
    counts.push(current.writer.count);
    current = undefined;
  };
  for await (const record of records) {
    if (!current) {
      const { stream, stored } = await open(counts.length);
      stored.catch(() => {}); // awaited in finish; this only keeps it from counting as unhandled meanwhile
      current = { writer: new ParquetResultsWriter(stream), stored };
    }
    await current.writer.write(record);
    if (current.writer.count >= maxRows) await finish();
  }
  // No records at all still make one file: a reader then finds the columns, with no rows.
  if (counts.length === 0 && !current) {
    const { stream, stored } = await open(0);
    current = { writer: new ParquetResultsWriter(stream), stored };
  }
  await finish();
  return counts;
}
