import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { type ResultRecord, writeParquetFiles } from '@phudge/core';
import { openOutput } from './output.js';

/** Writes a local run's results, in input order; @returns the files written (none for stdout). */
export type ResultsSink = (records: AsyncIterable<ResultRecord>) => Promise<string[]>;

/** The formats `phudge grade` writes. */
export type OutputFormat = 'jsonl' | 'parquet';

/** JSON Lines onto a file, or stdout when there is no path. */
export function jsonlSink(path: string | undefined): ResultsSink {
  return async (records) => {
    const output: Writable = path ? await openOutput(path) : process.stdout;
    try {
      for await (const record of records) {
        if (!output.write(`${JSON.stringify(record)}\n`)) await once(output, 'drain');
      }
    } finally {
      if (output !== process.stdout) {
        output.end();
        await once(output, 'finish');
      }
    }
    return path ? [path] : [];
  };
}

/**
 * Parquet files, streamed (memory holds one row group): `results.parquet` holds the first
 * MAX_ROWS_PER_FILE rows, then `results-000001.parquet` and so on.
 */
export function parquetSink(path: string): ResultsSink {
  return async (records) => {
    const files: string[] = [];
    await writeParquetFiles(records, async (index) => {
      const name =
        index === 0 ? path : path.replace(/(\.parquet)?$/i, `-${String(index).padStart(6, '0')}$1`);
      files.push(name);
      return { stream: await openOutput(name), stored: Promise.resolve() };
    });
    return files;
  };
}
