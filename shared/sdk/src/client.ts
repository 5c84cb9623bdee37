import type { ItemOptions, OutputOptions, ResultRecord, RubricSpec, RunSummary } from '@phudge/core';
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

/** Grading options of a run. */
export interface RunOptions {
  /** Rubric for items that name none: a library name, free text, or a rubric object. */
  rubric?: RubricSpec;
  /** Require one response (absolute) or two (relative) per item. */
  mode?: 'absolute' | 'relative';
  /** Metadata keys the summary breaks scores down by. */
  segments?: string[];
  /** A recurring run's name: its report compares with the previous run of that name. */
  name?: string;
  /** Grade every item once per rubric (not with `rubric`). */
  rubrics?: ItemOptions['rubrics'];
  /** JMESPath field mapping of the log's own schema. */
  map?: ItemOptions['map'];
  /** Field mapping of a common log shape: lmsys, langfuse, hf-preference. */
  preset?: ItemOptions['preset'];
  /** `{format: 'parquet'}` also writes the results as Parquet when the run completes. */
  output?: OutputOptions;
}

export interface SubmitRunOptions extends RunOptions {
  /**
   * `interactive` chunks are served before every `batch` run's; batch runs take turns.
   * @defaultValue `batch` (a grade() is always interactive)
   */
  priority?: 'interactive' | 'batch';

  /**
   * The run id (1-64 of A-Z a-z 0-9 _ -): submitting the same id and input again is the same run.
   * @defaultValue a fresh UUID, so that a retried submit never makes two runs
   */
  runId?: string;
  /** Items per chunk job. @defaultValue the producer's (64) */
  chunkSize?: number;
}

export interface GradeOptions extends RunOptions {
  /** The run id of the grading, as for {@link SubmitRunOptions.runId}. @defaultValue a fresh UUID */
  runId?: string;
  /** How long the producer waits for the results before it answers 504. @defaultValue the producer's (60000) */
  timeoutMs?: number;
}

/** A run's status, as `GET /v1/runs/:id` reports it. */
export interface RunStatus {
  runId: string;
  /** `cancelled`: stopped by {@link PhudgeClient.cancelRun}; its summary holds what was graded. */
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  total: number | null;
  done: number;
  errors: number;
  chunks: number | null;
  chunksDone: number;
  resultsPrefix: string;
  summaryUri: string | null;
  /** The run's HTML report, once it has ended. */
  reportUri: string | null;
  createdAt: string;
  completedAt: string | null;
  failure?: string;
}

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
    input: { uri: string } | { uris: string[] } | { items: unknown[] },
    options: SubmitRunOptions = {},
    request: RequestOptions = {},
  ): Promise<{ runId: string; created: boolean }> {
    const chosen = options.runId === undefined;
    const runId = options.runId ?? crypto.randomUUID();
    const answer = (await this.transport.json(
      { method: 'POST', path: '/v1/runs', body: { input, ...options, runId } },
      request,
    )) as { runId: string; created: boolean };
    // A fresh UUID can only name a run this call made: an earlier attempt whose answer was lost.
    return chosen ? { runId: answer.runId, created: true } : answer;
  }

  async getRun(runId: string, request: RequestOptions = {}): Promise<RunStatus> {
    return (await this.transport.json({ method: 'GET', path: runPath(runId) }, request)) as RunStatus;
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
    return (await this.transport.json(
      { method: 'POST', path: `${runPath(runId)}/cancel` },
      request,
    )) as RunStatus;
  }

  async summary(runId: string, request: RequestOptions = {}): Promise<RunSummary & { runId: string }> {
    return (await this.transport.json(
      { method: 'GET', path: `${runPath(runId)}/summary` },
      request,
    )) as RunSummary & { runId: string };
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
      for await (const value of ndjsonValues(open.body, open.failure)) yield value as ResultRecord;
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
  ): Promise<{ runId: string; results: ResultRecord[] }> {
    const runId = options.runId ?? crypto.randomUUID();
    const attemptMs = (options.timeoutMs ?? PRODUCER_GRADE_TIMEOUT_MS) + GRADE_TRANSFER_MS;
    return (await this.transport.json(
      { method: 'POST', path: '/v1/grade', body: { items, ...options, runId } },
      { timeoutMs: attemptMs, ...request },
    )) as { runId: string; results: ResultRecord[] };
  }

  /** Chunk jobs by state, and `pending` (what autoscaling follows). */
  async queue(request: RequestOptions = {}): Promise<Record<string, number>> {
    return (await this.transport.json({ method: 'GET', path: '/v1/queue' }, request)) as Record<
      string,
      number
    >;
  }
}

function runPath(runId: string): string {
  return `/v1/runs/${encodeURIComponent(runId)}`;
}
