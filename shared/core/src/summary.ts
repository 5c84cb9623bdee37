import { type GroupStats, isErrorResult, type ResultRecord, type RunSummary } from '@phudge/contracts';

/**
 * A summary as flat counters (`items`, `hist:3`, `rubric:honesty:sum`, `seg:channel=web:n`, ...):
 * the form that partial summaries of chunks take, so that they merge by adding field by field
 * (in Redis, with HINCRBYFLOAT) whatever order the chunks finish in.
 */
export type SummaryCounters = Record<string, number>;

/** Metadata values longer than this are cut in segment names, so one odd value cannot bloat a summary. */
const MAX_SEGMENT_VALUE = 64;

/** Accumulates summary counters one record at a time, in constant memory. */
export class SummaryBuilder {
  readonly counters: SummaryCounters = {};

  /** @param segmentKeys metadata keys whose values the summary breaks scores down by. */
  constructor(private readonly segmentKeys: readonly string[] = []) {}

  add(record: ResultRecord): void {
    this.bump('items');
    if (isErrorResult(record)) {
      this.bump('errors');
      this.bump(`error:${record.error.code}`);
      return;
    }
    if (record.truncated) this.bump('truncated');
    if (record.sanitized) this.bump('sanitized');
    const groups = [`rubric:${record.rubric ?? 'none'}`];
    for (const key of this.segmentKeys) {
      const value = record.metadata?.[key];
      if (value !== undefined && value !== null)
        groups.push(`seg:${key}=${String(value).slice(0, MAX_SEGMENT_VALUE)}`);
    }
    const scores = 'scores' in record ? record.scores : [record.score];
    for (const score of scores) {
      this.addScore('score', score);
      this.bump(`hist:${Math.min(5, Math.max(1, Math.round(score)))}`);
      for (const group of groups) this.addScore(group, score);
    }
    if ('winner' in record) this.bump(`winner:${record.winner}`);
  }

  build(): RunSummary {
    return summaryFromCounters(this.counters);
  }

  /** Model time spent on the records added, in milliseconds (whole ones: counters add up as integers). */
  addEngineMs(ms: number): void {
    if (ms > 0) this.bump('engineMs', Math.round(ms));
  }

  private addScore(prefix: string, score: number): void {
    this.bump(`${prefix}:n`);
    this.bump(`${prefix}:sum`, score);
    this.bump(`${prefix}:sq`, score * score);
  }

  private bump(key: string, by = 1): void {
    this.counters[key] = (this.counters[key] ?? 0) + by;
  }
}

export function summaryFromCounters(counters: SummaryCounters): RunSummary {
  const get = (key: string) => counters[key] ?? 0;
  const histogram: Record<string, number> = {};
  for (const bin of ['1', '2', '3', '4', '5']) histogram[bin] = get(`hist:${bin}`);
  const errorCodes: Record<string, number> = {};
  const rubrics: Record<string, GroupStats> = {};
  const segments: Record<string, Record<string, GroupStats>> = {};
  for (const key of Object.keys(counters)) {
    if (key.startsWith('error:')) errorCodes[key.slice(6)] = get(key);
    if (!key.endsWith(':n')) continue;
    const prefix = key.slice(0, -2);
    if (prefix.startsWith('rubric:')) {
      const label = prefix.slice(7);
      if (label !== 'none') rubrics[label] = groupStats(counters, prefix);
    } else if (prefix.startsWith('seg:')) {
      const [segmentKey, ...value] = prefix.slice(4).split('=');
      segments[segmentKey as string] ??= {};
      (segments[segmentKey as string] as Record<string, GroupStats>)[value.join('=')] = groupStats(
        counters,
        prefix,
      );
    }
  }
  const scored = get('score:n');
  const winners = ['A', 'B', 'tie'].some((w) => `winner:${w}` in counters)
    ? { A: get('winner:A'), B: get('winner:B'), tie: get('winner:tie') }
    : undefined;
  return {
    items: get('items'),
    graded: get('items') - get('errors'),
    errors: get('errors'),
    truncated: get('truncated'),
    sanitized: get('sanitized'),
    meanScore: scored === 0 ? null : get('score:sum') / scored,
    scores: groupStats(counters, 'score'),
    histogram,
    ...(winners ? { winners } : {}),
    errorCodes,
    rubrics,
    segments,
    ...('engineMs' in counters ? { engineSeconds: get('engineMs') / 1000 } : {}),
  };
}

function groupStats(counters: SummaryCounters, prefix: string): GroupStats {
  const count = counters[`${prefix}:n`] ?? 0;
  const sum = counters[`${prefix}:sum`] ?? 0;
  const squares = counters[`${prefix}:sq`] ?? 0;
  const mean = count === 0 ? 0 : sum / count;
  const variance = count > 1 ? Math.max(0, (squares - count * mean * mean) / (count - 1)) : 0;
  return { count, mean, std: Math.sqrt(variance) };
}
