import { type Logger, pino } from 'pino';
import pinoPretty, { type PrettyOptions } from 'pino-pretty';

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

/**
 * Errors as pino logs them, less ioredis's `command`: a failed AUTH or HELLO carries the Redis
 * password in `command.args`.
 */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { command: _command, ...rest } = pino.stdSerializers.err(error) as Record<string, unknown>;
  return rest;
}

/** How a log event reads to a person: `12:03:04.512 INFO (phudge-worker): worker running {"port":9090}`. */
const FOR_PEOPLE: PrettyOptions = {
  colorize: !process.env.NO_COLOR, // the no-color.org convention
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
};

/**
 * Logs on stderr, so that stdout stays free for results: one readable line per event when stderr
 * is a terminal (a person is watching), JSON lines otherwise (a log collector or a test parses them).
 * @param pretty readable lines instead of JSON. @defaultValue whether stderr is a terminal
 */
export function createLogger(
  level = 'info',
  name = 'phudge',
  pretty = process.stderr.isTTY === true,
): Logger {
  const options = {
    name,
    level,
    redact: { paths: REDACTED, censor: '[redacted]' },
    serializers: { err: serializeError },
  };
  // sync: a line is on the terminal before the next one is built, and none is lost at exit.
  return pretty
    ? pino(options, pinoPretty({ ...FOR_PEOPLE, destination: 2, sync: true }))
    : pino(options, pino.destination(2));
}

/**
 * A JSON log line of another process (a service `phudge cluster` started) as a person reads it,
 * under that process's name; undefined for a line that is not a pino JSON event.
 */
export function formatLogLine(line: string, processName: string): string | undefined {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof event !== 'object' || event === null || !('level' in event) || !('time' in event))
    return undefined;
  return prettify({ ...event, name: processName }).trimEnd();
}

const prettify = pinoPretty.prettyFactory(FOR_PEOPLE);

export type { Logger };
