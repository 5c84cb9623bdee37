import { createLogger, openStore } from '@phudge/core';
import { type BatchReport, openConfiguredJudge } from '@phudge/judge';
import type { ChunkGrader } from '@phudge/worker';
import { WorkerService } from '@phudge/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { runAccounting } from '../support/accounting.js';
import { makeItems, TestFleet } from '../support/fleet.js';
import { MODELS_DIR } from '../support/paths.js';

const MODEL = `${MODELS_DIR}tiny-judge`;

describe('regrade accounting in part manifests', () => {
  let fleet: TestFleet | undefined;
  let worker: WorkerService | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await fleet?.close();
    fleet = undefined;
  });

  async function accountingOf(runId: string) {
    const store = openStore((fleet as TestFleet).config);
    try {
      return await runAccounting(store, runId);
    } finally {
      await store.close();
    }
  }

  it('records each chunk as graded once, on its first attempt, never stalled, when nothing fails', async () => {
    fleet = await TestFleet.start();
    await fleet.startWorker();
    await fleet.client.submitRun({ items: makeItems(50) }, { runId: 'clean', chunkSize: 10 });
    await fleet.client.waitForRun('clean', { intervalMs: 100, timeoutMs: 60_000 });
    const accounting = await accountingOf('clean');
    expect(accounting).toMatchObject({ items: 50, lines: 50, lost: 0, duplicates: 0, regradedItems: 0 });
    expect(accounting.stalledChunks).toEqual([]);
    expect(accounting.partsWithoutManifest).toEqual([]);
    expect([...accounting.manifests.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
    for (const manifest of accounting.manifests.values()) {
      expect(manifest).toMatchObject({ runId: 'clean', count: 10, gradings: 1, attempt: 1, stalled: 0 });
      expect(manifest.counters.items).toBe(10);
    }
  });

  it('counts a chunk graded again after its first attempt died past the engine as a regrade of its items', async () => {
    fleet = await TestFleet.start();
    const config = fleet.config;
    let injected = false;
    // The real judge, with one fault injected: chunk 1's first grading is lost after the engine
    // scored it (as when a worker dies before it writes the part), so its job is retried.
    const openGrader = async (onBatch: (report: BatchReport) => void) => {
      const judge = await openConfiguredJudge(config, MODEL, { onBatch });
      const grader: ChunkGrader = {
        modelId: judge.modelId,
        engine: judge.engine,
        drain: () => judge.drain(),
        close: () => judge.close(),
        gradeEntries: async (entries) => {
          const records = await judge.gradeEntries(entries);
          if (entries[0]?.line === 11 && !injected) {
            injected = true;
            throw new Error('injected: the grading of chunk 1 is lost after the engine');
          }
          return records;
        },
      };
      return grader;
    };
    worker = new WorkerService({ config, logger: createLogger('silent'), model: MODEL, openGrader });
    await worker.start();
    await fleet.client.submitRun({ items: makeItems(30) }, { runId: 'regraded', chunkSize: 10 });
    const status = await fleet.client.waitForRun('regraded', { intervalMs: 100, timeoutMs: 60_000 });
    expect(status).toMatchObject({ state: 'completed', done: 30, errors: 0 });
    expect(injected).toBe(true);
    const accounting = await accountingOf('regraded');
    expect(accounting).toMatchObject({ items: 30, lines: 30, lost: 0, duplicates: 0, regradedItems: 10 });
    expect(accounting.regradedChunks).toEqual([1]);
    expect(accounting.manifests.get(1)).toMatchObject({ gradings: 2, attempt: 2, stalled: 0 });
    expect(accounting.manifests.get(0)).toMatchObject({ gradings: 1, attempt: 1 });
  });
});
