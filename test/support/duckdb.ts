import { DuckDBInstance } from '@duckdb/node-api';

/**
 * DuckDB as the independent Parquet library of the tests: the fleet writes Parquet with
 * hyparquet-writer and reads it with hyparquet, so a test that read back with either could share
 * their bugs. DuckDB writes the Parquet inputs the tests feed in, and reads the results back.
 */
export async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Every row of Parquet files (a path or a glob), ordered as the SQL says. */
export async function readParquet(
  files: string | string[],
  orderBy = 'source, line, rubric',
): Promise<Record<string, unknown>[]> {
  const list = (Array.isArray(files) ? files : [files]).map((file) => `'${file}'`).join(', ');
  return duckdb(`SELECT * FROM read_parquet([${list}]) ORDER BY ${orderBy}`);
}
