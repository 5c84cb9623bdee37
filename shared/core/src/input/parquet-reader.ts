import { type AsyncBuffer, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

export type { AsyncBuffer } from 'hyparquet';

/** One row group of a Parquet file, decoded. */
export interface RowGroupRows {
  /** Rows as JSON values (64-bit integers become numbers, or strings past 2^53). */
  rows: unknown[];
  /** Index of the group's first row in the file, from 0. */
  firstRow: number;
  /** Compressed bytes of the group, as stored. */
  bytes: number;
}

/**
 * The rows of a Parquet file, one row group at a time: only the footer and the group being
 * decoded are in memory, whatever the file's size. Every codec Parquet writers use is read
 * (snappy, gzip, zstd, brotli, lz4).
 */
export async function* parquetRowGroups(file: AsyncBuffer): AsyncGenerator<RowGroupRows> {
  const metadata = await parquetMetadataAsync(file);
  let firstRow = 0;
  for (const group of metadata.row_groups) {
    const count = Number(group.num_rows);
    const rows = await parquetReadObjects({
      file,
      metadata,
      rowStart: firstRow,
      rowEnd: firstRow + count,
      compressors,
    });
    yield {
      rows: rows.map(toJsonValue),
      firstRow,
      bytes: Number(group.total_compressed_size ?? 0n),
    };
    firstRow += count;
  }
}

/** Plain JSON for the mapping: INT64 columns arrive as bigint, binary columns as bytes. */
function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = toJsonValue(inner);
    return out;
  }
  return value;
}
