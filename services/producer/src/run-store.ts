import {
  type RunOptions,
  type RunRedisKeys,
  type RunSource,
  runRedisKeys,
  runSourceSchema,
  type SummaryCounters,
} from '@phudge/core';
import type { Redis } from 'ioredis';

export type RunState = 'queued' | 'running' | 'completed' | 'failed';

/** A run as Redis holds it. */
export interface RunRecord {
  runId: string;
  state: RunState;
  createdAt: number;
  completedAt?: number;
  options: RunOptions;
  /** Digest of the submission, so that a runId reused for a different input is refused. */
  digest: string;
  /** Where the input is read from (again, when an interrupted ingestion resumes). */
  input?: RunSource;
  /** Items per chunk: a resumed ingestion must cut the same chunks. */
  chunkSize: number;
  /** Chunks 0..enqueued-1 are in the store and the queue: a resumed ingestion skips them. */
  enqueued: number;
  /** Known once ingestion is finished. */
  ingested: boolean;
  chunks?: number;
  items?: number;
  /** Items whose results are written (failed chunks included). */
  done: number;
  chunksDone: number;
  chunksFailed: number;
  failure?: string;
  counters: SummaryCounters;
}

/** What a submission fixes about a run. */
export interface Submission {
  options: RunOptions;
  digest: string;
  input: RunSource;
  chunkSize: number;
}

/** Counts a chunk once, however often its message arrives (at-least-once delivery). */
const APPLY_CHUNK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return -1 end
redis.call('HINCRBY', KEYS[1], 'chunksDone', 1)
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[1], 'chunksFailed', 1)
  redis.call('HSETNX', KEYS[1], 'failure', ARGV[3])
  redis.call('SADD', KEYS[3], ARGV[1])
end
for i = 4, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], 'c:' .. ARGV[i], ARGV[i + 1]) end
if redis.call('HGET', KEYS[1], 'state') == 'queued' then redis.call('HSET', KEYS[1], 'state', 'running') end
return 1
`;

/** Picks a run's baseline once: the latest run of its name before it, or none (''). */
const BASELINE = `
local chosen = redis.call('HGET', KEYS[1], 'baseline')
if chosen then return chosen end
local previous = redis.call('GETSET', KEYS[2], ARGV[1])
if not previous or previous == ARGV[1] then previous = '' end
redis.call('HSET', KEYS[1], 'baseline', previous)
return previous
`;

/** Whether every chunk of a fully ingested run is counted (the run may end). */
const ALL_COUNTED = `
local ingested, chunks, done = unpack(redis.call('HMGET', KEYS[1], 'ingested', 'chunks', 'chunksDone'))
if ingested ~= '1' then return 0 end
if tonumber(done or '0') >= tonumber(chunks or '0') then return 1 end
return 0
`;

/** Ends a run once: only a run still queued or running moves to its final state. */
const FINISH = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'completedAt', ARGV[2])
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return 1
`;

/**
 * Opens a failed run again: its failure is cleared, its failed chunks are uncounted (their
 * counters taken back) so that they can be graded again, the expiry of its keys is lifted, and an
 * ingestion that never finished becomes one to resume. Only a run still failed is reopened.
 * KEYS: run, counted, failed, gradings, un-ingested set. ARGV: runId, n, n chunks, then counter pairs.
 */
const REOPEN = `
if redis.call('HGET', KEYS[1], 'state') ~= 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'chunksFailed', '0')
redis.call('HDEL', KEYS[1], 'failure', 'completedAt')
for i = 1, 4 do redis.call('PERSIST', KEYS[i]) end
local n = tonumber(ARGV[2])
for i = 3, n + 2 do
  if redis.call('SREM', KEYS[2], ARGV[i]) == 1 then redis.call('HINCRBY', KEYS[1], 'chunksDone', -1) end
  redis.call('SREM', KEYS[3], ARGV[i])
end
for i = n + 3, #ARGV, 2 do
  local field = 'c:' .. ARGV[i]
  if tonumber(redis.call('HINCRBYFLOAT', KEYS[1], field, -tonumber(ARGV[i + 1]))) == 0 then redis.call('HDEL', KEYS[1], field) end
end
if redis.call('HGET', KEYS[1], 'ingested') ~= '1' then redis.call('SADD', KEYS[5], ARGV[1]) end
return 1
`;

/** A finished run's state stays this long in Redis (its results and summary stay in the store). */
const FINISHED_RUN_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Run progress in Redis: one hash per run plus the set of chunks already counted, so that
 * progress is updated atomically and a chunk counts once. A few hundred bytes per run, whatever
 * its size: the items themselves never enter Redis.
 */
export class RunStore {
  private readonly keys: RunRedisKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = runRedisKeys(prefix);
  }

  /**
   * Records a new run. @returns the existing record instead when the runId is taken.
   */
  async create(runId: string, submission: Submission): Promise<{ created: boolean; run: RunRecord }> {
    const key = this.key(runId);
    const created = await this.redis.hsetnx(key, 'createdAt', String(Date.now()));
    if (created) {
      await this.redis
        .multi()
        .hset(key, {
          state: 'queued',
          options: JSON.stringify(submission.options),
          digest: submission.digest,
          input: JSON.stringify(submission.input),
          chunkSize: String(submission.chunkSize),
          enqueued: '0',
          ingested: '0',
          chunksDone: '0',
          chunksFailed: '0',
        })
        .sadd(this.keys.unIngested(), runId)
        .exec();
    }
    return { created: created === 1, run: (await this.get(runId)) as RunRecord };
  }

  /** Runs whose ingestion has not finished (some may be ingesting on a replica right now). */
  async unIngested(): Promise<string[]> {
    return this.redis.smembers(this.keys.unIngested());
  }

  /** The run needs no ingestion any more (it is gone, ingested or ended): no replica looks at it again. */
  async settleIngestion(runId: string): Promise<void> {
    await this.redis.srem(this.keys.unIngested(), runId);
  }

  /** Records that chunks 0..count-1 are stored and enqueued. */
  async setEnqueued(runId: string, count: number): Promise<void> {
    await this.redis.hset(this.key(runId), 'enqueued', String(count));
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const hash = await this.redis.hgetall(this.key(runId));
    if (!hash.createdAt || !hash.state) return undefined;
    const counters: SummaryCounters = {};
    for (const [field, value] of Object.entries(hash)) {
      if (field.startsWith('c:')) counters[field.slice(2)] = Number(value);
    }
    const number = (field: string) => (hash[field] === undefined ? undefined : Number(hash[field]));
    return {
      runId,
      state: hash.state as RunState,
      createdAt: Number(hash.createdAt),
      ...(hash.completedAt ? { completedAt: Number(hash.completedAt) } : {}),
      options: hash.options ? JSON.parse(hash.options) : {},
      digest: hash.digest ?? '',
      ...(hash.input ? { input: runSourceSchema.parse(JSON.parse(hash.input)) } : {}),
      chunkSize: number('chunkSize') ?? 0,
      enqueued: number('enqueued') ?? 0,
      ingested: hash.ingested === '1',
      ...(hash.chunks !== undefined ? { chunks: number('chunks') as number } : {}),
      ...(hash.items !== undefined ? { items: number('items') as number } : {}),
      done: counters.items ?? 0,
      chunksDone: number('chunksDone') ?? 0,
      chunksFailed: number('chunksFailed') ?? 0,
      ...(hash.failure ? { failure: hash.failure } : {}),
      counters,
    };
  }

  /** Chunks already counted: a resumed ingestion skips them. */
  async doneChunks(runId: string): Promise<Set<number>> {
    return new Set((await this.redis.smembers(this.chunksKey(runId))).map(Number));
  }

  async setIngested(runId: string, chunks: number, items: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key(runId), { chunks: String(chunks), items: String(items), ingested: '1' })
      .srem(this.keys.unIngested(), runId)
      .exec();
  }

  /**
   * Adds a chunk's summary counters to its run.
   * @returns `applied`, `duplicate` (already counted), or `unknown-run`.
   */
  async applyChunk(
    runId: string,
    chunk: number,
    counters: SummaryCounters,
    failure?: string,
  ): Promise<'applied' | 'duplicate' | 'unknown-run'> {
    const pairs = Object.entries(counters).flatMap(([name, value]) => [name, String(value)]);
    const result = (await this.redis.eval(
      APPLY_CHUNK,
      3,
      this.key(runId),
      this.chunksKey(runId),
      this.keys.failed(runId),
      String(chunk),
      failure ? '1' : '0',
      failure ?? '',
      ...pairs,
    )) as number;
    return result === 1 ? 'applied' : result === -1 ? 'duplicate' : 'unknown-run';
  }

  /**
   * The run this one is compared with: the previous run of the same name. Decided once (this run
   * becomes the latest of its name), so a report written twice compares with the same baseline.
   */
  async baselineOf(runId: string, name: string): Promise<string | undefined> {
    const baseline = (await this.redis.eval(
      BASELINE,
      2,
      this.key(runId),
      this.keys.latest(name),
      runId,
    )) as string;
    return baseline === '' ? undefined : baseline;
  }

  /** Chunks counted as failed for good. */
  async failedChunks(runId: string): Promise<number[]> {
    return (await this.redis.smembers(this.keys.failed(runId))).map(Number).sort((a, b) => a - b);
  }

  /**
   * Opens a failed run again (see REOPEN), taking back the counters its failed chunks added.
   * @returns false when the run was not failed (any more).
   */
  async reopen(runId: string, chunks: number[], counters: SummaryCounters): Promise<boolean> {
    const pairs = Object.entries(counters).flatMap(([name, value]) => [name, String(value)]);
    const reopened = await this.redis.eval(
      REOPEN,
      5,
      this.key(runId),
      this.chunksKey(runId),
      this.keys.failed(runId),
      this.keys.gradings(runId),
      this.keys.unIngested(),
      runId,
      String(chunks.length),
      ...chunks.map(String),
      ...pairs,
    );
    return reopened === 1;
  }

  /** How many times a chunk's entries were handed to an engine (the workers count them). */
  async gradingsOf(runId: string, chunk: number): Promise<number> {
    return Number((await this.redis.hget(this.keys.gradings(runId), String(chunk))) ?? 0);
  }

  /** Cheap check, before reading the whole run: is every chunk of the ingested run counted? */
  async allCounted(runId: string): Promise<boolean> {
    return (await this.redis.eval(ALL_COUNTED, 1, this.key(runId))) === 1;
  }

  /** @returns whether this call ended the run (false when it had ended already). */
  async finish(runId: string, state: 'completed' | 'failed', failure?: string): Promise<boolean> {
    if (failure) await this.redis.hsetnx(this.key(runId), 'failure', failure);
    // A run that ends (an ingestion that failed for good) is no longer one to resume.
    await this.redis.srem(this.keys.unIngested(), runId);
    const ended = await this.redis.eval(
      FINISH,
      4,
      this.key(runId),
      this.chunksKey(runId),
      this.keys.gradings(runId),
      this.keys.failed(runId),
      state,
      String(Date.now()),
      String(FINISHED_RUN_TTL_SECONDS),
    );
    return ended === 1;
  }

  private key(runId: string): string {
    return this.keys.run(runId);
  }

  private chunksKey(runId: string): string {
    return this.keys.counted(runId);
  }
}
