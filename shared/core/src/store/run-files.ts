import { runIdSchema, runOptionsSchema } from '@phudge/contracts';
import { z } from 'zod';

/**
 * Where a run's input is read from, again if its ingestion is resumed: the key in the fleet's
 * store of the exact input files a submission's URIs expanded to (`runs/<id>/input-files.json`,
 * see inputFilesSchema), or of the JSONL its inline items were written to (`runs/<id>/input.jsonl`).
 * `uri` is a submission of one file named as it is: nothing needs keeping, and the store need
 * not be up to submit it.
 */
export const runSourceSchema = z.union([
  z.strictObject({ files: z.string().min(1) }),
  z.strictObject({ stored: z.string().min(1) }),
  z.strictObject({ uri: z.string().min(1) }),
]);
export type RunSource = z.infer<typeof runSourceSchema>;

/** `runs/<id>/input-files.json`: the files of a run's input, in the order they are read. */
export const inputFilesSchema = z.object({ uris: z.array(z.string().min(1)) });

/**
 * A chunk's manifest, `runs/<id>/parts/part-NNNNNN.json`, written after its results part and
 * before its results message: the part's counters (enough to count the chunk into its run
 * without Redis) and how it was graded. The results part itself stays pure result records.
 */
export const partManifestSchema = z.object({
  runId: runIdSchema,
  chunk: z.number().int().nonnegative(),
  /** Result records in the part. */
  count: z.number().int().nonnegative(),
  /** The part's summary counters, as carried by its results message. */
  counters: z.record(z.string(), z.number()),
  /**
   * How many times the chunk's entries were handed to an engine, this time included: 1 when it
   * was graded once; more when a worker died (or drained) after it started the chunk. 0 for a
   * chunk that failed for good before it reached one.
   */
  gradings: z.number().int().nonnegative(),
  /** The chunk job's attempt that wrote the part (BullMQ's attemptsStarted; 1 = the first). */
  attempt: z.number().int().nonnegative(),
  /** How many times the job was taken over from a worker that stopped renewing its lock. */
  stalled: z.number().int().nonnegative(),
  /** Set when the chunk failed for good: its part holds one error record per item. */
  failure: z.string().optional(),
  writtenAt: z.iso.datetime(),
});
export type PartManifest = z.infer<typeof partManifestSchema>;

/**
 * A run's manifest, `runs/<id>/run.json`, written at submission and again (with its totals) once
 * ingested: with the part manifests, enough to rebuild the run when Redis has lost it.
 */
export const runManifestSchema = z.object({
  runId: runIdSchema,
  input: runSourceSchema,
  options: runOptionsSchema,
  /** Digest of input and options: the same runId with another input is refused. */
  digest: z.string().min(1),
  /** Items per chunk: a resumed ingestion cuts the same chunks. */
  chunkSize: z.number().int().positive(),
  createdAt: z.iso.datetime(),
  /** Known once ingestion is finished. */
  chunks: z.number().int().nonnegative().optional(),
  items: z.number().int().nonnegative().optional(),
  /** Set when the run was cancelled (its summary.json says `cancelled: true` too): a rebuilt run stays cancelled. */
  cancelledAt: z.iso.datetime().optional(),
});
export type RunManifest = z.infer<typeof runManifestSchema>;
