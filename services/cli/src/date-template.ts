/**
 * The placeholders `phudge submit` fills in its input URI, so that one scheduled command reads a
 * new input every night (`s3://logs/{yesterday}/*.jsonl.gz`). Dates are UTC, as `YYYY-MM-DD`:
 * a CronJob's pod and the machine that wrote the logs need not share a time zone.
 */
export const DATE_PLACEHOLDERS = ['{today}', '{yesterday}'] as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/** `YYYY-MM-DD` of an instant, in UTC. */
export function utcDate(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/**
 * Replaces every `{today}` and `{yesterday}` in `uri` with the UTC date of `now` and of the day
 * before. Other braces are left as they are: a glob's `{a,b}` alternatives mean something else.
 */
export function expandDatePlaceholders(uri: string, now: Date = new Date()): string {
  return uri
    .replaceAll('{today}', utcDate(now))
    .replaceAll('{yesterday}', utcDate(new Date(now.getTime() - DAY_MS)));
}
