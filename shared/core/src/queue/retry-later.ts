import { DelayedError, type Job } from 'bullmq';
import { backoffDelay } from '../retry.js';

/**
 * Longest wait before a job that met a transient fault is tried again: the end of an outage is
 * seen within 10 s, and a long outage costs each waiting job one request every 5-10 s (jittered,
 * so they do not come back in step).
 */
const MAX_TRANSIENT_DELAY_MS = 10_000;

/**
 * Puts a job that met a transient fault (see isTransient) back in its queue after an exponential
 * backoff with jitter, without spending one of its attempts: attempts are for faults of the job
 * itself, while an outage of the store or Redis may outlast them all.
 * @throws DelayedError, which tells BullMQ the job was moved, not failed.
 */
export async function retryLater(job: Job, token: string | undefined, baseDelayMs: number): Promise<never> {
  const delay = backoffDelay(job.attemptsStarted, Math.max(1, baseDelayMs), MAX_TRANSIENT_DELAY_MS);
  await job.moveToDelayed(Date.now() + delay, token);
  throw new DelayedError();
}
