import { errorBodySchema } from '@phudge/contracts';
import type { z } from 'zod';
import {
  AbortedError,
  ConnectionError,
  ConnectionTimeoutError,
  errorForStatus,
  PhudgeError,
} from './errors.js';
import { isRetryable, retryDelayMs } from './retry.js';

/** Per-call options every method of the client takes. */
export interface RequestOptions {
  /** Cancels the call: the request in flight and any wait before a retry. */
  signal?: AbortSignal;
  /** Time for one attempt, until its answer is read (a results stream: until it starts). */
  timeoutMs?: number;
  /** Retries of this call after connection errors, timeouts, 408, 429 and 5xx. */
  maxRetries?: number;
}

/** What a transport needs to know about the API it talks to. */
export interface TransportOptions {
  url: string;
  token: string;
  timeoutMs: number;
  maxRetries: number;
  onRetry: ((retry: RetryInfo) => void) | undefined;
}

/** What {@link TransportOptions.onRetry} is told before each wait and retry. */
export interface RetryInfo {
  /** Why the last attempt failed. */
  error: PhudgeError;
  /** Which retry this is: 1 for the first. */
  retry: number;
  /** How long the SDK waits before it. */
  delayMs: number;
}

/** One HTTP request to send, maybe several times. */
export interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

/**
 * An answer whose body is being streamed. `release` must be called once the body is read or
 * abandoned: it lets go of the caller's signal.
 */
export interface OpenStream {
  body: ReadableStream<Uint8Array>;
  /** One value read from the body, checked against the contract's schema. */
  check<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema>;
  /** The error to throw for a failure while reading the body (a broken connection, an abort). */
  failure(cause: unknown): PhudgeError;
  release(): void;
}

/**
 * Sends requests to the producer with a bearer token, a timeout per attempt, the caller's signal,
 * and retries with backoff; turns error answers into the {@link PhudgeError} of their status.
 */
export class Transport {
  private readonly base: string;

  constructor(private readonly options: TransportOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /**
   * Sends a call and reads its JSON answer, checked against the contract's schema, retrying the
   * whole exchange as the policy allows.
   */
  async json<Schema extends z.ZodType>(
    call: Call,
    schema: Schema,
    options: RequestOptions = {},
  ): Promise<z.output<Schema>> {
    return this.withRetries(options, async (attempt) => {
      const text = await attempt.read(await attempt.send(call));
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (cause) {
        throw badResponse(call, 'the answer is not JSON', cause);
      } finally {
        attempt.end();
      }
      return checked(call, schema, value);
    });
  }

  /** Sends a call and hands back its body as a stream once the answer starts (retried until then). */
  async stream(call: Call, options: RequestOptions = {}): Promise<OpenStream> {
    return this.withRetries(options, async (attempt) => {
      const response = await attempt.send(call);
      attempt.stopTimer();
      if (!response.body) throw attempt.failure(new Error('the answer has no body'));
      return {
        body: response.body,
        check: (schema, value) => checked(call, schema, value),
        failure: (cause) => attempt.failure(cause),
        release: () => attempt.end(),
      };
    });
  }

  /** Runs attempts until one succeeds, its error is not retryable, or the retries are spent. */
  private async withRetries<T>(options: RequestOptions, run: (attempt: Attempt) => Promise<T>): Promise<T> {
    const maxRetries = options.maxRetries ?? this.options.maxRetries;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    for (let retry = 0; ; retry++) {
      const attempt = new Attempt(this.base, this.options.token, timeoutMs, options.signal);
      try {
        return await run(attempt);
      } catch (error) {
        attempt.end();
        if (!(error instanceof PhudgeError) || retry >= maxRetries || !isRetryable(error)) throw error;
        const delayMs = retryDelayMs(retry, attempt.answerHeaders);
        this.options.onRetry?.({ error, retry: retry + 1, delayMs });
        await sleep(delayMs, options.signal);
      }
    }
  }
}

/** One attempt of a call: its own abort controller, fed by the caller's signal and a timer. */
class Attempt {
  /** The headers of an error answer, which may say when to retry. */
  answerHeaders: Headers | undefined;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  private timedOut = false;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal?.aborted) throw aborted(signal);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, timeoutMs);
  }

  /** Sends the request. @returns a success answer. @throws the error of an error answer, or of none. */
  async send(call: Call): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
    };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base}${call.path}`, {
        method: call.method,
        headers,
        signal: this.controller.signal,
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
      });
    } catch (cause) {
      throw this.failure(cause, `cannot reach the PHUDGE API at ${this.base}`);
    }
    if (response.ok) return response;
    const text = await this.read(response);
    this.answerHeaders = response.headers;
    throw errorFromAnswer(call, response, text);
  }

  /** The whole body as text, within this attempt's timeout. */
  async read(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (cause) {
      throw this.failure(cause);
    }
  }

  /** The error of a failure with no answer: the caller's abort, this attempt's timeout, or the connection. */
  failure(cause: unknown, context = 'the connection to the PHUDGE API broke'): PhudgeError {
    if (this.signal?.aborted) return aborted(this.signal);
    if (this.timedOut) {
      return new ConnectionTimeoutError(`no answer from the PHUDGE API within ${this.timeoutMs} ms`, {
        code: 'timeout',
        cause,
      });
    }
    return new ConnectionError(`${context}: ${describeCause(cause)}`, { code: 'connection', cause });
  }

  /** The answer has started: the rest of it (a stream) is not bound by the timeout. */
  stopTimer(): void {
    clearTimeout(this.timer);
  }

  end(): void {
    this.stopTimer();
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, "other side closed") is its cause. */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  return cause.cause instanceof Error ? `${cause.message} (${cause.cause.message})` : cause.message;
}

/** The error of an error answer: the body's `error` code and `message` when it is the API's JSON. */
function errorFromAnswer(call: Call, response: Response, text: string): PhudgeError {
  let code: string | undefined;
  let message = text.trim() || response.statusText;
  let runId: string | undefined;
  try {
    const body = errorBodySchema.safeParse(JSON.parse(text));
    if (body.success) ({ error: code, message, runId } = body.data);
  } catch {
    // Not JSON (a proxy's error page): its text is the message.
  }
  return errorForStatus(response.status, `${call.method} ${call.path}: ${response.status} ${message}`, {
    code,
    runId,
    requestId: response.headers.get('x-request-id') ?? undefined,
  });
}

/**
 * The value as the contract's schema reads it. A value it refuses is an answer this SDK cannot
 * use (a producer of another version, a proxy's page): an error, not a guess.
 */
function checked<Schema extends z.ZodType>(call: Call, schema: Schema, value: unknown): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw badResponse(
    call,
    `the answer does not match the API's contract${where}: ${issue?.message}`,
    parsed.error,
  );
}

function badResponse(call: Call, problem: string, cause: unknown): PhudgeError {
  return new PhudgeError(`${call.method} ${call.path}: ${problem}`, { code: 'bad_response', cause });
}

function aborted(signal: AbortSignal): AbortedError {
  return new AbortedError('the call was aborted', { code: 'aborted', cause: signal.reason });
}

/** Waits, unless the caller's signal fires first (then rejects with an {@link AbortedError}). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
