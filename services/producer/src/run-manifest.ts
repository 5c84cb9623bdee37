import { NotFoundError, type ObjectStore, type RunManifest, runKeys, runManifestSchema } from '@phudge/core';
import type { RunRecord } from './run-store.js';

/** The manifest of a run as Redis holds it, with its totals once ingested. */
export function runManifestOf(
  run: RunRecord & { input: NonNullable<RunRecord['input']> },
  totals?: { chunks: number; items: number },
): RunManifest {
  return {
    runId: run.runId,
    input: run.input,
    options: run.options,
    digest: run.digest,
    chunkSize: run.chunkSize,
    createdAt: new Date(run.createdAt).toISOString(),
    ...(totals ?? {}),
  };
}

export async function writeRunManifest(store: ObjectStore, manifest: RunManifest): Promise<void> {
  await store.put(runKeys.manifest(manifest.runId), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** @returns undefined when the run has no manifest in the store. */
export async function readRunManifest(store: ObjectStore, runId: string): Promise<RunManifest | undefined> {
  try {
    return runManifestSchema.parse(JSON.parse((await store.get(runKeys.manifest(runId))).toString('utf8')));
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
