import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createS3Client,
  FileObjectStore,
  jsonlBatches,
  type ObjectStore,
  type ReportSummary,
  resultRecordSchema,
  S3ObjectStore,
  type S3Settings,
  SummaryBuilder,
  UnrecoverableError,
} from '@phudge/core';

/** What a run is read from, besides the run itself. */
export interface RunInputOptions {
  /** How to reach an `s3://` run. */
  s3: S3Settings;
  /**
   * Metadata keys to break scores down by when the summary is computed from results (a
   * summary.json already says which keys its run named).
   * @defaultValue none
   */
  segments?: readonly string[];
}

/** What every form of run below is called in messages. */
export const RUN_FORMS =
  'a results JSONL file, a folder of *.jsonl results parts, a summary.json, or a run folder ' +
  '(holding summary.json or results/), local or s3://';

const SUMMARY_KEY = 'summary.json';
const RESULTS_FOLDER = 'results/';

/**
 * A run's summary, from whatever the user has: a `summary.json` as is, or else one computed from
 * the results with the same code as the fleet's collector (SummaryBuilder), streaming every
 * `*.jsonl` part in key order.
 *
 * @throws UnrecoverableError when the run cannot be read or holds something else than results.
 */
export async function readRunSummary(run: string, options: RunInputOptions): Promise<ReportSummary> {
  const { store, key } = await openRun(run, options.s3);
  try {
    if (key !== undefined) {
      return key.endsWith('.json')
        ? await readSummaryObject(store, key)
        : await summarizeResults(store, [key], options.segments);
    }
    if (await store.exists(SUMMARY_KEY)) return await readSummaryObject(store, SUMMARY_KEY);
    const parts = await resultParts(store);
    if (parts.length === 0) {
      throw new UnrecoverableError(
        `${run} holds no summary.json, no results/ and no *.jsonl: give ${RUN_FORMS}`,
      );
    }
    return await summarizeResults(store, parts, options.segments);
  } catch (error) {
    if (error instanceof UnrecoverableError) throw error;
    throw new UnrecoverableError(`cannot read run ${run}: ${(error as Error).message}`);
  } finally {
    await store.close();
  }
}

/** A store over the run's folder (or s3:// prefix), and the key of the one object given, if one was. */
async function openRun(run: string, s3: S3Settings): Promise<{ store: ObjectStore; key?: string }> {
  if (run.startsWith('s3://')) {
    const uri = run.replace(/\/+$/, '');
    if (!/\.jsonl?$/.test(uri)) return { store: new S3ObjectStore(uri, createS3Client(s3)) };
    const slash = uri.lastIndexOf('/');
    if (slash < 's3://'.length) throw new UnrecoverableError(`${run} names a bucket, not a run`);
    return { store: new S3ObjectStore(uri.slice(0, slash), createS3Client(s3)), key: uri.slice(slash + 1) };
  }
  const path = resolve(run.startsWith('file://') ? fileURLToPath(run) : run);
  const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UnrecoverableError(
      `cannot read run ${run}: ${error.code === 'ENOENT' ? 'no such file or folder' : error.message}`,
    );
  });
  if (stats.isDirectory()) return { store: new FileObjectStore(path) };
  return { store: new FileObjectStore(dirname(path)), key: basename(path) };
}

/** The results parts of a run folder (`results/*.jsonl`), or else the folder's own `*.jsonl`, in key order. */
async function resultParts(store: ObjectStore): Promise<string[]> {
  const partsIn = async (folder: string) =>
    (await store.list(folder)).filter(
      (key) => key.endsWith('.jsonl') && !key.slice(folder.length).includes('/'),
    );
  const parts = await partsIn(RESULTS_FOLDER);
  return parts.length > 0 ? parts : partsIn('');
}

async function readSummaryObject(store: ObjectStore, key: string): Promise<ReportSummary> {
  const where = describe(store, key);
  let value: unknown;
  try {
    value = JSON.parse((await store.get(key)).toString('utf8'));
  } catch (error) {
    throw new UnrecoverableError(`cannot read the summary ${where}: ${(error as Error).message}`);
  }
  if (!isSummary(value)) {
    throw new UnrecoverableError(
      `${where} is not a run summary (a summary.json written by a run or phudge grade --summary)`,
    );
  }
  return value;
}

/** The shape every summary.json has; the report reads nothing else from it unchecked. */
function isSummary(value: unknown): value is ReportSummary {
  if (typeof value !== 'object' || value === null) return false;
  const { items, histogram, scores } = value as Record<string, unknown>;
  return typeof items === 'number' && typeof histogram === 'object' && typeof scores === 'object';
}

async function summarizeResults(
  store: ObjectStore,
  keys: readonly string[],
  segments: readonly string[] = [],
): Promise<ReportSummary> {
  const builder = new SummaryBuilder(segments);
  const models = new Set<string>();
  for (const key of keys) {
    for await (const batch of jsonlBatches(await store.getStream(key))) {
      for (const { line, text } of batch) {
        const record = resultRecordSchema.safeParse(parseLine(text));
        if (!record.success) {
          throw new UnrecoverableError(
            `line ${line} of ${describe(store, key)} is not a result record: phudge report takes ${RUN_FORMS}`,
          );
        }
        builder.add(record.data);
        if ('model' in record.data) models.add(record.data.model);
      }
    }
  }
  // One judge graded the run: name it in the report, as a summary.json would.
  const model = models.size === 1 ? [...models][0] : undefined;
  return { ...builder.build(), ...(model ? { model } : {}) };
}

function parseLine(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An object as the user would write it: a plain path for local files, an s3:// URI otherwise. */
function describe(store: ObjectStore, key: string): string {
  const uri = store.uri(key);
  return uri.startsWith('file://') ? fileURLToPath(uri) : uri;
}
