import { type Logger, pino } from 'pino';

/** Paths of secrets that must never reach a log line, wherever they appear in a logged object. */
const REDACTED = [
  '*.password',
  '*.token',
  '*.tokens',
  '*.secretAccessKey',
  '*.accessKeyId',
  '*.authorization',
  'headers.authorization',
  'config.redis.url',
];

/** JSON logs on stderr, so that stdout stays free for results. */
export function createLogger(level = 'info', name = 'phudge'): Logger {
  return pino({ name, level, redact: { paths: REDACTED, censor: '[redacted]' } }, pino.destination(2));
}

export type { Logger };
