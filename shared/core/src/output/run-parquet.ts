import { PassThrough } from 'node:stream';
import { type ResultRecord, resultRecordSchema } from '@phudge/contracts';
import { jsonlBatches } from '../jsonl.js';
import { runKeys } from '../queue/contracts.js';
import type { ObjectStore } from '../store/object-store.js';
import { MAX_ROWS_PER_FILE, writeParquetFiles } from './parquet-results.js';

/**
 * Writes a finished run's results as Parquet files, `runs/<id>/results-parquet/part-NNNNNN.parquet`,
 * from its JSONL parts in chunk order (so in input order), streamed: one part is read at a time
 * and one row group held. The keys are deterministic, so writing again (a collector that died
 * half-way) overwrites the same files.
 * @param chunks the run's chunk count; a part that does not exist (a failed chunk whose input was
 *   lost) is skipped, as when the results are served.
 * @returns the keys written, in order.
 */
export async function writeRunParquet(
  store: ObjectStore,
  runId: string,
  chunks: number,
  maxRows = MAX_ROWS_PER_FILE,
): Promise<string[]> {
  async function* records(): AsyncGenerator<ResultRecord> {
    for (let chunk = 0; chunk < chunks; chunk++) {
      const key = runKeys.results(runId, chunk);
      if (!(await store.exists(key))) continue;
      for await (const batch of jsonlBatches(await store.getStream(key))) {
        for (const { text } of batch) yield resultRecordSchema.parse(JSON.parse(text));
      }
    }
  }
  const keys: string[] = [];
  await writeParquetFiles(
    records(),
    async (index) => {
      const key = runKeys.parquet(runId, index);
      keys.push(key);
      const stream = new PassThrough();
      const stored = store.put(key, stream).catch((error: Error) => {
        stream.destroy(error);
        throw error;
      });
      return { stream, stored };
    },
    maxRows,
  );
  return keys;
}
