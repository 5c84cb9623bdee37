import type { ErrorResult } from '@phudge/contracts';
import { InvalidInputError } from '../errors.js';

/**
 * The error record of a bad line. Only InvalidInputError is the input's fault; anything else is
 * rethrown, since it is not the line's to carry.
 */
export function toErrorRecord(
  line: number,
  error: unknown,
  id: string | undefined,
  source?: string,
): ErrorResult {
  if (!(error instanceof InvalidInputError)) throw error;
  return {
    ...(id !== undefined ? { id } : {}),
    ...(source !== undefined ? { source } : {}),
    line,
    error: { code: error.code, message: error.message },
  };
}
