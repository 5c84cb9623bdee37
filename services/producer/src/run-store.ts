import {
  type RedisClient,
  type RunOptions,
  type RunRedisKeys,
  type RunSource,
  runSourceSchema,
  type SummaryCounters,
} from '@phudge/core';

export type RunState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** The states a run ends in: nothing moves it on from them (a resubmission reopens a failed one). */
export const FINAL_STATES: readonly RunState[] = ['completed', 'failed', 'cancelled'];

export function isFinished(run: Pick<RunRecord, 'state'>): boolean {
  return FINAL_STATES.includes(run.state);
}

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

/** What counting a chunk's message did, and what the collector needs to decide next. */
export type ChunkApplied =
  | { outcome: 'applied' | 'duplicate'; state: RunState; allCounted: boolean }
  | { outcome: 'unknown-run'; allCounted: false };

/** A run as rebuilt from the store, ready for {@link RunStore.restore}. */
export interface RestoredRun {
  /** The run hash's fields, as strings (counters as `c:<name>`). */
  fields: Record<string, string>;
  counted: number[];
  failed: number[];
  /** Gradings per chunk, from the part manifests. */
  gradings: Record<string, number>;
  /** A finished run's keys expire as those of any finished run. */
  finished: boolean;
}

/** What a submission fixes about a run. */
export interface Submission {
  options: RunOptions;
  digest: string;
  input: RunSource;
  chunkSize: number;
}

/** Records a new run whole, unless its runId is taken. ARGV: createdAt, then field pairs. */
const CREATE = `
if redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
`;

/** Lua: whether every chunk of a fully ingested run is counted (the run may end), as 1 or 0. */
const ALL_COUNTED_LUA = `
local ingested, chunks, done = unpack(redis.call('HMGET', KEYS[1], 'ingested', 'chunks', 'chunksDone'))
local all = 0
if ingested == '1' and tonumber(done or '0') >= tonumber(chunks or '0') then all = 1 end
`;

/**
 * Counts a chunk once, however often its message arrives (at-least-once delivery). Returns what
 * the collector decides on next, so that it needs no more round trips: {1 applied | -1 duplicate
 * | -2 unknown run, the run's state, 1 when every chunk of the ingested run is counted}.
 */
const APPLY_CHUNK = `
if redis.call('HEXISTS', KEYS[1], 'createdAt') == 0 then return {-2, '', 0} end
local outcome = -1
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  outcome = 1
  redis.call('HINCRBY', KEYS[1], 'chunksDone', 1)
  if ARGV[2] == '1' then
    redis.call('HINCRBY', KEYS[1], 'chunksFailed', 1)
    redis.call('HSETNX', KEYS[1], 'failure', ARGV[3])
    redis.call('SADD', KEYS[3], ARGV[1])
  end
  for i = 4, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], 'c:' .. ARGV[i], ARGV[i + 1]) end
  if redis.call('HGET', KEYS[1], 'state') == 'queued' then redis.call('HSET', KEYS[1], 'state', 'running') end
end
${ALL_COUNTED_LUA}
return {outcome, redis.call('HGET', KEYS[1], 'state') or '', all}
`;

/**
 * Picks a run's baseline once: the latest run of its name before it, or none (''). The choice is
 * kept beside the name's latest run, in its slot, so that the swap and the record are one step.
 * KEYS: the name's latest run, this run's baseline record. ARGV: runId, ttl.
 */
const BASELINE = `
local chosen = redis.call('GET', KEYS[2])
if chosen then return chosen end
local previous = redis.call('GET', KEYS[1])
if not previous or previous == ARGV[1] then previous = '' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], previous, 'EX', ARGV[2])
return previous
`;

/** Whether every chunk of a fully ingested run is counted (the run may end). */
const ALL_COUNTED = `${ALL_COUNTED_LUA}
return all
`;

/** Ends a run once: only a run still queued or running moves to its final state. */
const FINISH = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'completedAt', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'failure', ARGV[4]) end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return 1
`;

/**
 * Opens a failed run again: its failure is cleared, its failed chunks are uncounted (their
 * counters taken back) so that they can be graded again, and the expiry of its keys is lifted.
 * Only a run still failed is reopened. KEYS: run, counted, failed, gradings (one slot).
 * ARGV: n, n chunks, then counter pairs. Returns 0 (not failed), 1 (reopened), or 2 (reopened,
 * and its ingestion never finished: one to resume).
 */
const REOPEN = `
if redis.call('HGET', KEYS[1], 'state') ~= 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'chunksFailed', '0')
redis.call('HDEL', KEYS[1], 'failure', 'completedAt')
for i = 1, 4 do redis.call('PERSIST', KEYS[i]) end
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  if redis.call('SREM', KEYS[2], ARGV[i]) == 1 then redis.call('HINCRBY', KEYS[1], 'chunksDone', -1) end
  redis.call('SREM', KEYS[3], ARGV[i])
end
for i = n + 2, #ARGV, 2 do
  local field = 'c:' .. ARGV[i]
  if tonumber(redis.call('HINCRBYFLOAT', KEYS[1], field, -tonumber(ARGV[i + 1]))) == 0 then redis.call('HDEL', KEYS[1], field) end
end
if redis.call('HGET', KEYS[1], 'ingested') ~= '1' then return 2 end
return 1
`;

/**
 * Recreates a run Redis lost, from what the store holds, unless it exists again already (another
 * replica rebuilt it first). KEYS: run, counted, failed, gradings (one slot).
 * ARGV[1]: JSON {fields, counted, failed, gradings, ttl}.
 */
const RESTORE = `
if redis.call('HEXISTS', KEYS[1], 'createdAt') == 1 then return 0 end
redis.call('DEL', KEYS[1])
local p = cjson.decode(ARGV[1])
for field, value in pairs(p.fields) do redis.call('HSET', KEYS[1], field, value) end
for _, chunk in ipairs(p.counted) do redis.call('SADD', KEYS[2], chunk) end
for _, chunk in ipairs(p.failed) do redis.call('SADD', KEYS[3], chunk) end
for chunk, count in pairs(p.gradings) do redis.call('HSET', KEYS[4], chunk, count) end
if p.ttl > 0 then for i = 1, 4 do redis.call('EXPIRE', KEYS[i], p.ttl) end end
return 1
`;

/** Sets fields of a run only if it exists (a late write after Redis lost it must not half-recreate it). */
const UPDATE = `
if redis.call('HEXISTS', KEYS[1], 'createdAt') == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * Cancels a run still queued or running, once: its keys expire as a finished run's (chunks still
 * on the engines are counted long before). KEYS: run, counted, gradings, failed (one slot).
 * ARGV: completedAt, ttl.
 */
const CANCEL = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'completedAt', ARGV[1])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
return 1
`;

/** A finished run's state stays this long in Redis (its results and summary stay in the store). */
const FINISHED_RUN_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Run progress in Redis: one hash per run plus the set of chunks already counted, so that
 * progress is updated atomically and a chunk counts once. A few hundred bytes per run, whatever
 * its size: the items themselves never enter Redis.
 *
 * Slot-safe for a Redis Cluster: a script touches only one run's keys (one slot, see
 * runRedisKeys), each passed in KEYS; the fleet-wide sets (runs ingesting, runs settled) are
 * written by commands of their own, never inside a run's script or MULTI.
 */
export class RunStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RunRedisKeys,
  ) {}

  /**
   * Records a new run. @returns the existing record instead when the runId is taken.
   */
  async create(runId: string, submission: Submission): Promise<{ created: boolean; run: RunRecord }> {
    const fields = {
      state: 'queued',
      options: JSON.stringify(submission.options),
      digest: submission.digest,
      input: JSON.stringify(submission.input),
      chunkSize: String(submission.chunkSize),
      enqueued: '0',
      ingested: '0',
      chunksDone: '0',
      chunksFailed: '0',
    };
    const created = await this.markedUnIngested(
      runId,
      async () =>
        (await this.redis.eval(
          CREATE,
          1,
          this.key(runId),
          String(Date.now()),
          ...Object.entries(fields).flat(),
        )) === 1,
    );
    return { created, run: (await this.get(runId)) as RunRecord };
  }

  /**
   * Writes a run that may need ingesting (`write` @returns whether it does) and records it in the
   * set of runs ingesting, which is in another slot of a cluster than the run, so not in the same
   * script. The run goes into the set before it is written, so that a producer killed between
   * the two leaves it there for a replica to resume; and again after, as a replica that looked
   * at it in between found no run yet and took it out. A run put in the set that turns out not to
   * need ingesting is taken out by the first replica that looks at it.
   */
  private async markedUnIngested(runId: string, write: () => Promise<boolean>): Promise<boolean> {
    await this.redis.sadd(this.keys.unIngested(), runId);
    const needsIngesting = await write();
    if (needsIngesting) await this.redis.sadd(this.keys.unIngested(), runId);
    return needsIngesting;
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
    await this.update(runId, { enqueued: String(count) });
  }

  /** Sets fields of a run that exists: a run Redis lost is never half-recreated by a late write. */
  private async update(runId: string, fields: Record<string, string>): Promise<boolean> {
    const pairs = Object.entries(fields).flat();
    return (await this.redis.eval(UPDATE, 1, this.key(runId), ...pairs)) === 1;
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

  /** The little an ingestion checks before each bulk: whether the run was cancelled, how far it is. */
  async progress(runId: string): Promise<{ state: RunState; chunksDone: number } | undefined> {
    const [state, chunksDone] = await this.redis.hmget(this.key(runId), 'state', 'chunksDone');
    return state ? { state: state as RunState, chunksDone: Number(chunksDone ?? 0) } : undefined;
  }

  /**
   * Cancels a run still queued or running (see CANCEL).
   * @returns whether this call cancelled it (false when it had ended already).
   */
  async cancel(runId: string, cancelledAt = Date.now()): Promise<boolean> {
    const cancelled = await this.redis.eval(
      CANCEL,
      4,
      this.key(runId),
      this.chunksKey(runId),
      this.keys.gradings(runId),
      this.keys.failed(runId),
      String(cancelledAt),
      String(FINISHED_RUN_TTL_SECONDS),
    );
    // Its ingestion is no longer one to resume. (Were this lost, a replica that looked at the run
    // would find it cancelled and settle it.)
    if (cancelled === 1) await this.settleIngestion(runId);
    return cancelled === 1;
  }

  /** Chunks already counted: a resumed ingestion skips them. */
  async doneChunks(runId: string): Promise<Set<number>> {
    return new Set((await this.redis.smembers(this.chunksKey(runId))).map(Number));
  }

  async setIngested(runId: string, chunks: number, items: number): Promise<void> {
    // A run Redis lost meanwhile (rebuilt as not ingested) stays one to resume.
    if (await this.update(runId, { chunks: String(chunks), items: String(items), ingested: '1' }))
      await this.settleIngestion(runId);
  }

  /**
   * Adds a chunk's summary counters to its run, in one round trip that also says what comes next.
   * @returns `applied`, `duplicate` (already counted) or `unknown-run`; the run's state after it;
   *   and whether every chunk of the ingested run is now counted (see {@link allCounted}).
   */
  async applyChunk(
    runId: string,
    chunk: number,
    counters: SummaryCounters,
    failure?: string,
  ): Promise<ChunkApplied> {
    const pairs = Object.entries(counters).flatMap(([name, value]) => [name, String(value)]);
    const [result, state, all] = (await this.redis.eval(
      APPLY_CHUNK,
      3,
      this.key(runId),
      this.chunksKey(runId),
      this.keys.failed(runId),
      String(chunk),
      failure ? '1' : '0',
      failure ?? '',
      ...pairs,
    )) as [number, string, number];
    if (result === -2) return { outcome: 'unknown-run', allCounted: false };
    return {
      outcome: result === 1 ? 'applied' : 'duplicate',
      state: state as RunState,
      allCounted: all === 1,
    };
  }

  /**
   * The run this one is compared with: the previous run of the same name. Decided once (this run
   * becomes the latest of its name), so a report written twice compares with the same baseline.
   */
  async baselineOf(runId: string, name: string): Promise<string | undefined> {
    // A run that ended before baselines were kept beside the name has its choice in its hash.
    const earlier = await this.redis.hget(this.key(runId), 'baseline');
    const baseline =
      earlier ??
      ((await this.redis.eval(
        BASELINE,
        2,
        this.keys.latest(name),
        this.keys.baseline(name, runId),
        runId,
        String(FINISHED_RUN_TTL_SECONDS),
      )) as string);
    return baseline === '' ? undefined : baseline;
  }

  /** Of these runs, those Redis holds no record of and that are not known to be settled. */
  async unknown(runIds: string[]): Promise<string[]> {
    if (runIds.length === 0) return [];
    // Sent together, one command per key (a pipeline or a many-key EXISTS must stay in one slot
    // on a cluster); the client writes them out at once, so it is still one round trip.
    const [exists, settled] = await Promise.all([
      Promise.all(runIds.map((runId) => this.redis.exists(this.key(runId)))),
      this.redis.smismember(this.keys.settled(), ...runIds),
    ]);
    return runIds.filter((_, i) => exists[i] === 0 && settled[i] !== 1);
  }

  /** Marks runs the recovery scan need not look at again (finished, or without a manifest). */
  async settle(runId: string): Promise<void> {
    await this.redis.sadd(this.keys.settled(), runId);
  }

  /** Recreates a run from the store (see RESTORE). @returns false when it existed again already. */
  async restore(runId: string, restored: RestoredRun): Promise<boolean> {
    const ttl = restored.finished ? FINISHED_RUN_TTL_SECONDS : 0;
    const payload = JSON.stringify({
      fields: restored.fields,
      counted: restored.counted.map(String),
      failed: restored.failed.map(String),
      gradings: restored.gradings,
      ttl,
    });
    const restore = async () =>
      (await this.redis.eval(
        RESTORE,
        4,
        this.key(runId),
        this.chunksKey(runId),
        this.keys.failed(runId),
        this.keys.gradings(runId),
        payload,
      )) === 1;
    // One never ingested that has not ended becomes one for the replicas to resume.
    const { ingested, state } = restored.fields;
    if (ingested === '1' || FINAL_STATES.includes(state as RunState)) return restore();
    return this.markedUnIngested(runId, restore);
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
    let reopened = 0;
    // An ingestion that never finished (2) becomes one to resume.
    await this.markedUnIngested(runId, async () => {
      reopened = Number(
        await this.redis.eval(
          REOPEN,
          4,
          this.key(runId),
          this.chunksKey(runId),
          this.keys.failed(runId),
          this.keys.gradings(runId),
          String(chunks.length),
          ...chunks.map(String),
          ...pairs,
        ),
      );
      return reopened === 2;
    });
    return reopened !== 0;
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
  async finish(
    runId: string,
    state: 'completed' | 'failed',
    failure?: string,
    completedAt = Date.now(),
  ): Promise<boolean> {
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
      String(completedAt),
      String(FINISHED_RUN_TTL_SECONDS),
      failure ?? '',
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
