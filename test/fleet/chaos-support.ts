import { setTimeout as sleep } from 'node:timers/promises';
import { parseJsonl, runKeys } from '@phudge/core';
import type { RunStatus } from '@phudge/sdk';
import { expect } from 'vitest';
import { type RunAccounting, runAccounting } from '../support/accounting.js';
import type { ProcessFleet } from '../support/processes.js';

/** Polls the run (through whichever producer is up) until `test` holds; throws if it ends first. */
export async function waitForRun(
  fleet: ProcessFleet,
  runId: string,
  test: (status: RunStatus) => boolean,
  timeoutMs = 120_000,
): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: RunStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = await fleet.client().getRun(runId);
      if (test(last)) return last;
      if (last.state === 'completed' || last.state === 'failed')
        throw new Error(`run ${runId} ended ${last.state} (${last.failure ?? ''}) before the awaited point`);
    } catch (error) {
      if ((error as Error).message.includes('before the awaited point')) throw error;
      // a producer restarting, or Redis away: ask again
    }
    await sleep(50);
  }
  throw new Error(`run ${runId} did not reach the awaited point in ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

export const isFinished = (status: RunStatus) => status.state === 'completed' || status.state === 'failed';

/**
 * Waits for the run to complete and checks what every fault test promises, from the store alone:
 * every input item has one result line, in input order, none lost or duplicated, and no more
 * items graded again than `regradeBound` (what the failed processes held).
 */
export async function expectExactlyOnce(
  fleet: ProcessFleet,
  runId: string,
  items: unknown[],
  regradeBound: number,
): Promise<RunAccounting> {
  const status = await waitForRun(fleet, runId, isFinished, 180_000);
  expect(status).toMatchObject({ state: 'completed', total: items.length, done: items.length, errors: 0 });
  const store = fleet.openStore();
  try {
    const accounting = await runAccounting(store, runId);
    expect(accounting).toMatchObject({ items: items.length, lines: items.length, lost: 0, duplicates: 0 });
    expect(accounting.partsWithoutManifest).toEqual([]);
    expect(accounting.regradedItems).toBeLessThanOrEqual(regradeBound);
    const ids: string[] = [];
    for (let chunk = 0; chunk < (status.chunks as number); chunk++) {
      for (const record of parseJsonl(await store.get(runKeys.results(runId, chunk))))
        ids.push((record as { id: string }).id);
    }
    expect(ids).toEqual(items.map((item) => (item as { id: string }).id));
    return accounting;
  } finally {
    await store.close();
  }
}
