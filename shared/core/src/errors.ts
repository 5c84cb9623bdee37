/**
 * Named errors: control flow never matches on message strings.
 *
 * - {@link InvalidInputError}: one grading request is bad; it becomes an error record and the run goes on.
 * - {@link UnrecoverableError}: retrying cannot help (corrupt bundle, bad config); fail fast with the reason.
 *
 * Anything else (a store or Redis fault) propagates: a chunk job then fails its attempt and BullMQ
 * retries it with backoff.
 */
export type InputErrorCode = 'invalid_json' | 'invalid_input' | 'prompt_too_long';

export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
  constructor(
    readonly code: InputErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class UnrecoverableError extends Error {
  override readonly name = 'UnrecoverableError';
}
