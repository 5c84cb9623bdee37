import {
  type BullConnections,
  type FinalRunState,
  finalRunStateSchema,
  type Logger,
  type PhudgeConfig,
  QUEUES,
  queuePrefix,
  splitList,
  summaryFromCounters,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookFormat,
  type WebhookJob,
  webhookEventId,
  webhookJobId,
  webhookJobSchema,
  webhookSignature,
} from '@phudge/core';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { RunRecord } from './run-store.js';

/** Deliveries posted at once: each is one small HTTP request. */
const DELIVERY_CONCURRENCY = 8;

const EVENT_OF_STATE = {
  completed: 'run.completed',
  failed: 'run.failed',
  cancelled: 'run.cancelled',
} as const satisfies Record<FinalRunState, WebhookEventType>;

/** What the event says beyond the run record: where its report is, and its verdict. */
export interface RunEnding {
  /** null for a run that failed before it had one (its ingestion failed). */
  reportUri: string | null;
  verdict?: string;
}

/**
 * Enqueues a run's end event, one job per receiver (PHUDGE_WEBHOOK_URLS and the run's
 * notify.url). Job ids are deterministic, so enqueueing the same event again is a no-op while
 * the job is kept (a week): a redelivered results message does not notify twice.
 */
export class WebhookNotifier {
  private readonly urls: string[];
  constructor(
    private readonly queue: Queue,
    config: Pick<PhudgeConfig, 'webhooks'>,
  ) {
    this.urls = splitList(config.webhooks.urls);
  }

  async notify(run: RunRecord, ending: RunEnding): Promise<void> {
    const ended = finalRunStateSchema.safeParse(run.state);
    if (!ended.success) return; // only an ended run has an event
    const receivers: { url: string; format: WebhookFormat }[] = this.urls.map((url) => ({
      url,
      format: 'json',
    }));
    const notify = run.options.notify;
    if (notify) receivers.push({ url: notify.url, format: notify.format ?? 'json' });
    if (receivers.length === 0) return;
    const event = runEvent(run, ended.data, ending);
    await this.queue.addBulk(
      receivers.map((receiver) => {
        const job: WebhookJob = { ...receiver, event };
        return { name: event.type, data: job, opts: { jobId: webhookJobId(event.id, receiver.url) } };
      }),
    );
  }
}

function runEvent(run: RunRecord, state: FinalRunState, ending: RunEnding): WebhookEvent {
  const type = EVENT_OF_STATE[state];
  const summary = summaryFromCounters(run.counters);
  return {
    id: webhookEventId(run.runId, type),
    type,
    createdAt: new Date(run.completedAt ?? Date.now()).toISOString(),
    run: {
      runId: run.runId,
      ...(run.options.name !== undefined ? { name: run.options.name } : {}),
      state,
      counts: { items: summary.items, errors: summary.errors },
      meanScore: summary.meanScore,
      ...(ending.verdict !== undefined ? { verdict: ending.verdict } : {}),
      reportUri: ending.reportUri,
      ...(run.failure !== undefined ? { failure: run.failure } : {}),
    },
  };
}

/** The webhook queue: attempts with exponential backoff, deliveries kept a week for dedupe. */
export function webhookQueue(config: PhudgeConfig, bull: BullConnections): Queue {
  return new Queue(QUEUES.webhooks, {
    connection: bull.for('client'),
    prefix: queuePrefix(config),
    streams: { events: { maxLen: 1000 } },
    defaultJobOptions: {
      attempts: config.webhooks.attempts,
      backoff: { type: 'exponential', delay: config.webhooks.backoffMs },
      removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    },
  });
}

/** The HTTP body of a delivery in its receiver's format. */
export function webhookBody(job: WebhookJob): string {
  if (job.format === 'json') return JSON.stringify(job.event);
  const { run } = job.event;
  const title = run.name ? `${run.name} (${run.runId})` : run.runId;
  const mean = run.meanScore === null ? 'n/a' : run.meanScore.toFixed(3);
  const lines = [
    `PHUDGE run ${title} ${run.state}: ${run.counts.items} items, ${run.counts.errors} errors, mean score ${mean}.`,
    ...(run.verdict ? [run.verdict] : []),
    ...(run.failure ? [`Failure: ${run.failure}`] : []),
    ...(run.reportUri ? [`Report: ${run.reportUri}`] : []),
  ];
  return JSON.stringify({ text: lines.join('\n') });
}

/**
 * Posts the webhook queue's deliveries. A network error, a timeout or a non-2xx answer throws,
 * and BullMQ retries the job with backoff; the job lives in Redis, so a producer that stops
 * leaves it to the next one.
 */
export function webhookWorker(
  config: PhudgeConfig,
  bull: BullConnections,
  logger: Logger,
  onOutcome: (outcome: 'delivered' | 'retried' | 'failed') => void,
): Worker {
  const { secret, timeoutMs } = config.webhooks;
  const worker = new Worker(
    QUEUES.webhooks,
    async (job) => {
      const parsed = webhookJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`bad webhook job: ${parsed.error.message}`);
      const body = webhookBody(parsed.data);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-phudge-event-id': parsed.data.event.id,
        'x-phudge-event': parsed.data.event.type,
      };
      if (secret) headers['x-phudge-signature'] = webhookSignature(body, secret);
      const response = await fetch(parsed.data.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`receiver answered ${response.status}`);
    },
    {
      connection: bull.for('worker'),
      prefix: queuePrefix(config),
      concurrency: DELIVERY_CONCURRENCY,
    },
  );
  worker.on('completed', () => onOutcome('delivered'));
  worker.on('failed', (job, error) => {
    const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1);
    onOutcome(final ? 'failed' : 'retried');
    // The job's id and event, never its URL (it may carry a token) nor the secret.
    logger.warn(
      { jobId: job?.id, attempts: job?.attemptsMade, err: error.message },
      final ? 'webhook delivery given up' : 'webhook delivery failed; it will be retried',
    );
  });
  return worker;
}
