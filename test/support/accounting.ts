import {
  chunkEntrySchema,
  type ObjectStore,
  type PartManifest,
  parseJsonl,
  partManifestSchema,
  runKeys,
} from '@phudge/core';

/** What the store alone says about a run's results: the three counts a fault test asserts. */
export interface RunAccounting {
  /** Items of the run: the entries of its chunk objects. */
  items: number;
  /** Result lines in its results parts. */
  lines: number;
  /** Result lines beyond the first for the same item. */
  duplicates: number;
  /** Items with no result line. */
  lost: number;
  /** Items of chunks graded more than once (their manifest's `gradings` > 1). */
  regradedItems: number;
  /** Chunks graded more than once. */
  regradedChunks: number[];
  /** Chunks taken over from a worker that stopped renewing its lock (`stalled` > 0). */
  stalledChunks: number[];
  /** Chunks with a results part but no part manifest (a writer died between the two). */
  partsWithoutManifest: number[];
  /** The part manifests, by chunk. */
  manifests: Map<number, PartManifest>;
}

/**
 * Counts a run's items, result lines, duplicates, losses and regrades from the store alone (its
 * chunk objects, results parts and part manifests), so a fault test can assert them whatever
 * Redis remembers. An item is known by its id (`line-N` when it has none); the test inputs have
 * unique ids.
 */
export async function runAccounting(store: ObjectStore, runId: string): Promise<RunAccounting> {
  const expected = new Map<string, number>();
  for (const key of await store.list(`runs/${runId}/chunks/`)) {
    for (const line of parseJsonl(await store.get(key))) {
      const entry = chunkEntrySchema.parse(line);
      const id = 'error' in entry ? entry.id : (entry.request.id as string | undefined);
      const name = id ?? `line-${entry.line}`;
      expected.set(name, (expected.get(name) ?? 0) + 1);
    }
  }
  const seen = new Map<string, number>();
  const parts = new Set<number>();
  let lines = 0;
  for (const key of await store.list(runKeys.resultsPrefix(runId))) {
    parts.add(chunkOf(key));
    for (const record of parseJsonl(await store.get(key)) as { id?: string; line?: number }[]) {
      lines += 1;
      const name = record.id ?? `line-${record.line}`;
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
  }
  const manifests = new Map<number, PartManifest>();
  for (const key of await store.list(runKeys.partsPrefix(runId))) {
    const manifest = partManifestSchema.parse(JSON.parse((await store.get(key)).toString('utf8')));
    manifests.set(manifest.chunk, manifest);
  }
  let duplicates = 0;
  let lost = 0;
  let items = 0;
  for (const [name, count] of expected) {
    items += count;
    const got = seen.get(name) ?? 0;
    lost += Math.max(0, count - got);
    duplicates += Math.max(0, got - count);
  }
  // Lines of items that are in no chunk count as duplicates too: nothing should have written them.
  for (const [name, got] of seen) if (!expected.has(name)) duplicates += got;
  const regraded = [...manifests.values()].filter((manifest) => manifest.gradings > 1);
  return {
    items,
    lines,
    duplicates,
    lost,
    regradedItems: regraded.reduce((sum, manifest) => sum + manifest.count, 0),
    regradedChunks: regraded.map((manifest) => manifest.chunk).sort((a, b) => a - b),
    stalledChunks: [...manifests.values()]
      .filter((manifest) => manifest.stalled > 0)
      .map((manifest) => manifest.chunk)
      .sort((a, b) => a - b),
    partsWithoutManifest: [...parts].filter((chunk) => !manifests.has(chunk)).sort((a, b) => a - b),
    manifests,
  };
}

/** The chunk number of `.../part-000012.jsonl` or `.../chunk-000012.jsonl`. */
function chunkOf(key: string): number {
  const match = /-(\d+)\.jsonl?$/.exec(key);
  if (!match) throw new Error(`not a part or chunk key: ${key}`);
  return Number(match[1]);
}
