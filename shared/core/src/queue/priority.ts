import type { RunOptions, RunPriority } from '@phudge/contracts';
import { type ChunkJob, chunkJobId } from './contracts.js';

/** BullMQ's largest job priority, 2^21 - 1 (it refuses a job above it; lower numbers are served sooner). */
export const MAX_JOB_PRIORITY = 2 ** 21 - 1;

/**
 * The BullMQ priority of a chunk job. Interactive chunks come first (1). A batch chunk's priority
 * grows with its index, so that the queued batch runs are served in turns by chunk index: a small
 * run submitted after a large one is served from its first chunk on, ahead of the large one's
 * later chunks, and finishes without waiting for it. Re-enqueued chunks (retries, recovery,
 * a reopened run) get the same priority, as it depends only on the run and the index.
 */
export function chunkJobPriority(priority: RunPriority | undefined, chunk: number): number {
  if (priority === 'interactive') return 1;
  return Math.min(2 + chunk, MAX_JOB_PRIORITY);
}

/**
 * A chunk job as the chunks queue takes it, the same wherever it is enqueued (ingestion, recovery,
 * a reopened run): its deterministic id, its priority, and the run's segments.
 */
export function chunkJob(
  runId: string,
  options: Pick<RunOptions, 'segments' | 'priority'>,
  chunk: number,
  place: { uri: string; count: number },
): { name: 'chunk'; data: ChunkJob; opts: { jobId: string; priority: number } } {
  return {
    name: 'chunk',
    data: {
      runId,
      chunk,
      ...place,
      ...(options.segments?.length ? { segments: options.segments } : {}),
    },
    opts: { jobId: chunkJobId(runId, chunk), priority: chunkJobPriority(options.priority, chunk) },
  };
}
