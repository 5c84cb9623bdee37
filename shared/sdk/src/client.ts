import type { ResultRecord, RubricSpec, RunSummary } from '@phudge/core';

/** Options of a {@link PhudgeClient}. */
export interface PhudgeClientOptions {
  /** Base URL of the producer API, e.g. `http://phudge-producer:8080`. */
  url: string;
  /** Bearer token (one of the producer's PHUDGE_API_TOKENS). */
  token: string;
  /** Per-request timeout in milliseconds. @defaultValue 30000 */
  timeoutMs?: number;
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
}

export interface SubmitRunOptions extends RunOptions {
  /** Choose the run id (1-64 of A-Z a-z 0-9 _ -): submitting the same id twice is one run. */
  runId?: string;
  /** Items per chunk job. @defaultValue the producer's (64) */
  chunkSize?: number;
}

/** A run's status, as `GET /v1/runs/:id` reports it. */
export interface RunStatus {
  runId: string;
  state: 'queued' | 'running' | 'completed' | 'failed';
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

/** An HTTP error from the producer: the status and the server's own message. */
export class PhudgeApiError extends Error {
  override readonly name = 'PhudgeApiError';
  constructor(
    readonly status: number,
    message: string,
    /** Set on a 504 from `grade()`: the run to poll. */
    readonly runId?: string,
  ) {
    super(message);
  }
}

/** Typed client of the PHUDGE producer API. */
export class PhudgeClient {
  private readonly base: string;

  constructor(private readonly options: PhudgeClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /** Submits a run over a JSONL input (`s3://...` or a path the producer can read) or inline items. */
  async submitRun(
    input: { uri: string } | { items: unknown[] },
    options: SubmitRunOptions = {},
  ): Promise<{ runId: string; created: boolean }> {
    return this.request('POST', '/v1/runs', { input, ...options });
  }

  async getRun(runId: string): Promise<RunStatus> {
    return this.request('GET', `/v1/runs/${encodeURIComponent(runId)}`);
  }

  /**
   * Polls until the run is completed or failed.
   * @param onProgress told about each status seen, for progress display.
   */
  async waitForRun(
    runId: string,
    {
      intervalMs = 1000,
      timeoutMs = Number.POSITIVE_INFINITY,
      onProgress,
    }: { intervalMs?: number; timeoutMs?: number; onProgress?: (status: RunStatus) => void } = {},
  ): Promise<RunStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getRun(runId);
      onProgress?.(status);
      if (status.state === 'completed' || status.state === 'failed') return status;
      if (Date.now() >= deadline)
        throw new PhudgeApiError(408, `run ${runId} is still ${status.state} after ${timeoutMs} ms`, runId);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  async summary(runId: string): Promise<RunSummary & { runId: string }> {
    return this.request('GET', `/v1/runs/${encodeURIComponent(runId)}/summary`);
  }

  /** The results of a finished run, in input order, streamed line by line. */
  async *results(runId: string): AsyncGenerator<ResultRecord> {
    const response = await this.fetch(
      'GET',
      `/v1/runs/${encodeURIComponent(runId)}/results`,
      undefined,
      false,
    );
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(piece, { stream: true });
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') yield JSON.parse(line) as ResultRecord;
        newline = buffered.indexOf('\n');
      }
    }
    if (buffered.trim() !== '') yield JSON.parse(buffered) as ResultRecord;
  }

  /**
   * Grades up to 256 items and answers with their results.
   * @throws PhudgeApiError 504 with `runId` when they take longer than the server's timeout.
   */
  async grade(
    items: unknown[],
    options: RunOptions & { timeoutMs?: number } = {},
  ): Promise<{ runId: string; results: ResultRecord[] }> {
    return this.request('POST', '/v1/grade', { items, ...options }, (options.timeoutMs ?? 60_000) + 5000);
  }

  /** Chunk jobs by state, and `pending` (what autoscaling follows). */
  async queue(): Promise<Record<string, number>> {
    return this.request('GET', '/v1/queue');
  }

  private async request<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const response = await this.fetch(method, path, body, true, timeoutMs);
    return (await response.json()) as T;
  }

  private async fetch(
    method: string,
    path: string,
    body: unknown,
    timed: boolean,
    timeoutMs?: number,
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(timed ? { signal: AbortSignal.timeout(timeoutMs ?? this.options.timeoutMs ?? 30_000) } : {}),
      });
    } catch (error) {
      throw new PhudgeApiError(0, `cannot reach the PHUDGE API at ${this.base}: ${(error as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text();
      let message = text;
      let runId: string | undefined;
      try {
        const json = JSON.parse(text) as { message?: string; runId?: string };
        message = json.message ?? text;
        runId = json.runId;
      } catch {}
      throw new PhudgeApiError(response.status, `${method} ${path}: ${response.status} ${message}`, runId);
    }
    return response;
  }
}
