import {
  gradedSchema,
  type gradeSchema,
  queueCountsSchema,
  type ResultRecord,
  type RunInput,
  type RunStatus,
  type RunSummaryBody,
  resultRecordSchema,
  type runOptionsSchema,
  runStatusSchema,
  runSummaryBodySchema,
  type Submitted,
  type submitRunSchema,
  submittedSchema,
} from '@phudge/contracts';
import type { z } from 'zod';
import { AbortedError, WaitTimeoutError } from './errors.js';
import { ndjsonValues } from './ndjson.js';
import { type RequestOptions, type RetryInfo, sleep, Transport } from './transport.js';

/** Options of a {@link PhudgeClient}. */
export interface PhudgeClientOptions {
  /** Base URL of the producer API, e.g. `http://phudge-producer:8080`. */
  url: string;
  /** Bearer token (one of the producer's PHUDGE_API_TOKENS). */
  token: string;
  /** Time for one attempt of a request, until its answer is read. @defaultValue 30000 */
  timeoutMs?: number;
  /**
   * Retries of a request after a connection error, a timeout, 408, 429 or 5xx, with exponential
   * backoff and jitter (or the server's `Retry-After`). Every call is safe to retry. @defaultValue 2
   */
  maxRetries?: number;
  /** Told before each retry (why, which, how long until it), e.g. to log a producer's restart. */
  onRetry?: (retry: RetryInfo) => void;
}

/** Grading options of a run: rubric or rubrics, mode, field mapping, segments, name, output. */
export type RunOptions = z.input<typeof runOptionsSchema>;

/** Options of {@link PhudgeClient.submitRun}: a run's options, its runId (a fresh UUID by default) and chunk size. */
export type SubmitRunOptions = Omit<z.input<typeof submitRunSchema>, 'input'>;

/** Options of {@link PhudgeClient.grade}: a run's options, its runId (a fresh UUID by default) and the producer's wait. */
export type GradeOptions = Omit<z.input<typeof gradeSchema>, 'items'>;

export type { ResultRecord, RunInput, RunStatus, RunSummaryBody };

export interface WaitOptions {
  /** Between two polls of the status. @defaultValue 1000 */
  intervalMs?: number;
  /** Longest wait for the run to end, in all. @defaultValue no limit */
  timeoutMs?: number;
  /** Told each status seen, for progress display. */
  onProgress?: (status: RunStatus) => void;
  /** Cancels the wait. */
  signal?: AbortSignal;
}

/** How long the producer waits on POST /v1/grade when the caller does not say (its default). */
const PRODUCER_GRADE_TIMEOUT_MS = 60_000;
/** Beyond the producer's own wait, time for the results to travel before an attempt of grade() gives up. */
const GRADE_TRANSFER_MS = 5000;

/** Typed client of the PHUDGE producer API, with timeouts, retries and cancellation on every call. */
export class PhudgeClient {
  private readonly transport: Transport;

  constructor(options: PhudgeClientOptions) {
    this.transport = new Transport({
      url: options.url,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 2,
      onRetry: options.onRetry,
    });
  }

  /**
   * Submits a run over a JSONL input (`s3://...` or a path the producer can read) or inline items.
   * Idempotent: a retry carries the same runId, which the producer counts as the same run.
   * @returns `created: false` when a run of this runId and input already existed (given runIds only).
   * @throws ConflictError when the runId names a run of another input or options.
   */
  async submitRun(
    input: RunInput,
    options: SubmitRunOptions = {},
    request: RequestOptions = {},
  ): Promise<Submitted> {
    const chosen = options.runId === undefined;
    const runId = options.runId ?? crypto.randomUUID();
    const answer = await this.transport.json(
      { method: 'POST', path: '/v1/runs', body: { input, ...options, runId } },
      submittedSchema,
      request,
    );
    // A fresh UUID can only name a run this call made: an earlier attempt whose answer was lost.
    return chosen ? { runId: answer.runId, created: true } : answer;
  }

  async getRun(runId: string, request: RequestOptions = {}): Promise<RunStatus> {
    return this.transport.json({ method: 'GET', path: runPath(runId) }, runStatusSchema, request);
  }

  /**
   * Polls until the run is completed, failed or cancelled.
   * @throws WaitTimeoutError (with the last status seen) when `timeoutMs` passes first.
   */
  async waitForRun(runId: string, options: WaitOptions = {}): Promise<RunStatus> {
    const { intervalMs = 1000, timeoutMs, onProgress, signal } = options;
    const deadline = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const stop = deadline && signal ? AbortSignal.any([signal, deadline]) : (deadline ?? signal);
    let last: RunStatus | undefined;
    try {
      for (;;) {
        last = await this.getRun(runId, stop ? { signal: stop } : {});
        onProgress?.(last);
        if (last.state === 'completed' || last.state === 'failed' || last.state === 'cancelled') return last;
        await sleep(intervalMs, stop);
      }
    } catch (error) {
      if (error instanceof AbortedError && deadline?.aborted && !signal?.aborted) {
        throw new WaitTimeoutError(
          `run ${runId} is still ${last?.state ?? 'unknown'} after ${timeoutMs} ms`,
          { code: 'wait_timeout', runId },
          last,
        );
      }
      throw error;
    }
  }

  /**
   * Cancels a run: its ingestion stops, its chunks not yet on an engine are dropped, those on one
   * finish and are kept. Safe to repeat: a run that has ended (cancelled or not) is left as it is.
   * @returns the run's status: `cancelled`, or the state it had ended in.
   */
  async cancelRun(runId: string, request: RequestOptions = {}): Promise<RunStatus> {
    return this.transport.json(
      { method: 'POST', path: `${runPath(runId)}/cancel` },
      runStatusSchema,
      request,
    );
  }

  async summary(runId: string, request: RequestOptions = {}): Promise<RunSummaryBody> {
    return this.transport.json(
      { method: 'GET', path: `${runPath(runId)}/summary` },
      runSummaryBodySchema,
      request,
    );
  }

  /**
   * The results of a finished run, in input order, read line by line as they arrive: a run of any
   * size streams through without being held. The request is retried until the answer starts;
   * `timeoutMs` bounds only that, not the reading.
   * @throws ConflictError (`not_finished`) while the run has not ended.
   */
  async *results(runId: string, request: RequestOptions = {}): AsyncGenerator<ResultRecord> {
    const open = await this.transport.stream({ method: 'GET', path: `${runPath(runId)}/results` }, request);
    try {
      for await (const value of ndjsonValues(open.body, open.failure))
        yield open.check(resultRecordSchema, value);
    } finally {
      open.release();
    }
  }

  /**
   * Grades up to 256 items and answers with their results. Idempotent like {@link submitRun}.
   * @throws GradeTimeoutError, with the `runId` to poll, when they take longer than `timeoutMs`.
   */
  async grade(
    items: unknown[],
    options: GradeOptions = {},
    request: RequestOptions = {},
  ): Promise<z.infer<typeof gradedSchema>> {
    const runId = options.runId ?? crypto.randomUUID();
    const attemptMs = (options.timeoutMs ?? PRODUCER_GRADE_TIMEOUT_MS) + GRADE_TRANSFER_MS;
    return this.transport.json(
      { method: 'POST', path: '/v1/grade', body: { items, ...options, runId } },
      gradedSchema,
      { timeoutMs: attemptMs, ...request },
    );
  }

  /** Chunk jobs by state, and `pending` (what autoscaling follows). */
  async queue(request: RequestOptions = {}): Promise<Record<string, number>> {
    return this.transport.json({ method: 'GET', path: '/v1/queue' }, queueCountsSchema, request);
  }
}

function runPath(runId: string): string {
  return `/v1/runs/${encodeURIComponent(runId)}`;
}
