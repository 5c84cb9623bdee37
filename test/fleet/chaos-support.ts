import { setTimeout as sleep } from 'node:timers/promises';
import type { RunStatus } from '@phudge/sdk';
import { expect } from 'vitest';
import { accountRun, type RunAccounting } from '../support/accounting.js';
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
      if (process.env.CHAOS_DEBUG) console.error(JSON.stringify(last));
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
 * Waits for the run to complete and checks what every fault test promises: every item once, no
 * line twice, and no more items graded again than `regradeBound`.
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
    const ids = items.map((item) => (item as { id: string }).id);
    const accounting = await accountRun(store, runId, status.chunks as number, ids);
    expect({ lost: accounting.lost, duplicated: accounting.duplicated, lines: accounting.lines }).toEqual({
      lost: 0,
      duplicated: 0,
      lines: items.length,
    });
    expect(accounting.regraded).toBeLessThanOrEqual(regradeBound);
    return accounting;
  } finally {
    await store.close();
  }
}
