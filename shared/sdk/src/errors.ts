/**
 * Everything the SDK throws is a {@link PhudgeError}: one `catch` and `instanceof` per case, no
 * matching of message strings. An error answer of the API becomes the class of its status.
 */

/** What a {@link PhudgeError} carries besides its message. */
export interface PhudgeErrorDetails {
  /** The HTTP status of the answer; absent when none came (connection, timeout, abort). */
  status?: number | undefined;
  /** The API's stable error code (the body's `error`: `not_found`, `conflict`, ...), or the SDK's own. */
  code?: string | undefined;
  /** The producer's id of the request (`x-request-id`), to find it in the producer's logs. */
  requestId?: string | undefined;
  /** The run the error is about, where the API names one (a grading timeout). */
  runId?: string | undefined;
  cause?: unknown;
}

/** The base of every error of the SDK. */
export class PhudgeError extends Error {
  override name = 'PhudgeError';
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  readonly runId: string | undefined;

  constructor(message: string, details: PhudgeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
    this.runId = details.runId;
  }
}

/** 400: the body or the input was refused; the message names the field at fault. */
export class BadRequestError extends PhudgeError {
  override name = 'BadRequestError';
}

/** 401: no token, or not one of the producer's. */
export class AuthenticationError extends PhudgeError {
  override name = 'AuthenticationError';
}

/** 403: the token is valid but may not do this. */
export class PermissionDeniedError extends PhudgeError {
  override name = 'PermissionDeniedError';
}

/** 404: no such run. */
export class NotFoundError extends PhudgeError {
  override name = 'NotFoundError';
}

/** 409: the runId names another submission, or the run has not finished yet (`not_finished`). */
export class ConflictError extends PhudgeError {
  override name = 'ConflictError';
}

/** 429: too many requests; retried after the server's `Retry-After` before it is thrown. */
export class RateLimitError extends PhudgeError {
  override name = 'RateLimitError';
}

/** 5xx: the producer (or a proxy before it) failed; retried before it is thrown. */
export class ServerError extends PhudgeError {
  override name = 'ServerError';
}

/**
 * `grade()` outlasted its `timeoutMs` on the server (504 `timeout`): the items are graded all the
 * same, so this is not retried; poll {@link PhudgeError.runId} with `waitForRun`.
 */
export class GradeTimeoutError extends ServerError {
  override name = 'GradeTimeoutError';
}

/** No answer: the producer could not be reached, or the connection broke. Retried before it is thrown. */
export class ConnectionError extends PhudgeError {
  override name = 'ConnectionError';
}

/** No answer within the per-request `timeoutMs`. Retried before it is thrown. */
export class ConnectionTimeoutError extends ConnectionError {
  override name = 'ConnectionTimeoutError';
}

/** The caller's `AbortSignal` fired; its reason is the `cause`. Never retried. */
export class AbortedError extends PhudgeError {
  override name = 'AbortedError';
}

/** `waitForRun` reached its overall `timeoutMs` with the run not finished; `lastStatus` is where it stood. */
export class WaitTimeoutError<Status = unknown> extends PhudgeError {
  override name = 'WaitTimeoutError';
  constructor(
    message: string,
    details: PhudgeErrorDetails,
    readonly lastStatus: Status | undefined,
  ) {
    super(message, details);
  }
}

/** The error for an API answer that is not a success, by its status (and the grading timeout by its code). */
export function errorForStatus(status: number, message: string, details: PhudgeErrorDetails): PhudgeError {
  const withStatus = { ...details, status };
  if (status === 400) return new BadRequestError(message, withStatus);
  if (status === 401) return new AuthenticationError(message, withStatus);
  if (status === 403) return new PermissionDeniedError(message, withStatus);
  if (status === 404) return new NotFoundError(message, withStatus);
  if (status === 409) return new ConflictError(message, withStatus);
  if (status === 429) return new RateLimitError(message, withStatus);
  if (status === 504 && details.code === 'timeout' && details.runId !== undefined)
    return new GradeTimeoutError(message, withStatus);
  if (status >= 500) return new ServerError(message, withStatus);
  return new PhudgeError(message, withStatus);
}
