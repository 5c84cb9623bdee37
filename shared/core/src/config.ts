import convict from 'convict';
import { parseApiTokens } from './api-tokens.js';
import { UnrecoverableError } from './errors.js';
import { redisTarget } from './queue/redis-target.js';
import { isInputLocation, splitList } from './store/input-policy.js';

const DEVICE_PATTERN = /^(cpu|cuda(:\d+)?)$/;

convict.addFormat({
  name: 'positive-int',
  validate: (value: unknown) => {
    if (!Number.isInteger(value) || (value as number) < 1)
      throw new Error('must be a whole number of at least 1');
  },
  coerce: Number,
});

convict.addFormat({
  name: 'non-negative-number',
  validate: (value: unknown) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new Error('must be a number of at least 0');
  },
  coerce: Number,
});

/** A comma-separated list of input locations of one kind, each checked. */
function inputLocations(kind: 'file' | 's3', expected: string) {
  return (value: unknown) => {
    if (typeof value !== 'string') throw new Error('must be a string');
    const bad = splitList(value).filter((location) => !isInputLocation(location, kind));
    if (bad.length > 0) throw new Error(`${bad.join(', ')}: each entry must be ${expected}`);
  };
}

/**
 * The one configuration schema of every PHUDGE process. Each key is read from its `PHUDGE_*`
 * variable, validated once at start-up; a bad value fails fast naming the key.
 */
const schema = {
  model: {
    doc: 'Judge bundle: a directory or s3://bucket/prefix. Empty: the untrained test judge models/tiny-judge.',
    format: String,
    default: '',
    env: 'PHUDGE_MODEL',
  },
  modelCache: {
    doc: 'Where bundles given by s3:// URI are downloaded once and kept. Empty: ~/.cache/phudge/models.',
    format: String,
    default: '',
    env: 'PHUDGE_MODEL_CACHE',
  },
  device: {
    doc: 'Execution provider: cpu, or cuda:N for GPU N (falls back to cpu with a warning).',
    format: (value: unknown) => {
      if (typeof value !== 'string' || !DEVICE_PATTERN.test(value)) throw new Error('must be cpu or cuda:N');
    },
    default: 'cpu',
    env: 'PHUDGE_DEVICE',
  },
  engine: {
    threads: {
      doc: 'ONNX Runtime intra-op threads; 0 lets ORT choose (one per physical core).',
      format: 'nat',
      default: 0,
      env: 'PHUDGE_THREADS',
    },
    maxBatchTokens: {
      // 16k padded tokens keeps a Phi-3-mini fp16 batch well inside a 24 GB card's activations
      // while giving a GPU enough rows to stay busy; it must hold at least one max_length prompt.
      doc: 'Token budget of one model batch: batch size x padded length.',
      format: 'positive-int',
      default: 16384,
      env: 'PHUDGE_MAX_BATCH_TOKENS',
    },
    maxBatchSize: {
      doc: 'Most prompts in one model batch, whatever their length.',
      format: 'positive-int',
      default: 64,
      env: 'PHUDGE_MAX_BATCH_SIZE',
    },
    window: {
      // Items are sorted by length within a window before batching: larger windows pad less,
      // smaller ones bound memory and the delay before the first result.
      doc: 'Prepared items sorted together before they are cut into batches.',
      format: 'positive-int',
      default: 1024,
      env: 'PHUDGE_BATCH_WINDOW',
    },
  },
  grading: {
    tieMargin: {
      doc: 'Relative mode: a score difference at or under this margin is a tie.',
      format: Number,
      default: 0.25,
      env: 'PHUDGE_TIE_MARGIN',
    },
  },
  log: {
    level: {
      doc: 'pino log level.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      env: 'PHUDGE_LOG_LEVEL',
    },
  },
  redis: {
    url: {
      doc: 'Redis holding the queues and run state: redis://[user:password@]host:port[/db], rediss:// for TLS. A Redis Cluster (redis.cluster): one or more of its nodes, comma-separated.',
      format: String,
      default: 'redis://127.0.0.1:6379',
      env: 'PHUDGE_REDIS_URL',
      sensitive: true,
    },
    cluster: {
      // A flag, not a guess from the number of URLs: a managed cluster (ElastiCache, MemoryDB)
      // is often named by one configuration endpoint.
      doc: 'Redis is a Redis Cluster: redis.url names one or more of its nodes (the client finds the others), queue keys are hash-tagged ({prefix}), run keys carry their run id as a hash tag.',
      format: Boolean,
      default: false,
      env: 'PHUDGE_REDIS_CLUSTER',
    },
  },
  store: {
    url: {
      doc: 'Object store for chunks, results and summaries: s3://bucket/prefix or file:///dir.',
      format: String,
      default: 'file://./phudge-data',
      env: 'PHUDGE_STORE_URL',
    },
  },
  s3: {
    endpoint: {
      doc: 'S3-compatible endpoint (MinIO, s3rver, ...); empty for AWS S3. Credentials: the standard AWS_* variables.',
      format: String,
      default: '',
      env: 'PHUDGE_S3_ENDPOINT',
    },
    forcePathStyle: {
      doc: 'Address buckets as endpoint/bucket rather than bucket.endpoint (most S3-compatible stores need it).',
      format: Boolean,
      default: false,
      env: 'PHUDGE_S3_FORCE_PATH_STYLE',
    },
    region: {
      doc: 'S3 region; empty uses AWS_REGION, else us-east-1.',
      format: String,
      default: '',
      env: 'PHUDGE_S3_REGION',
    },
    connectTimeoutMs: {
      doc: 'Longest wait for a connection to the store; a store that does not accept one is retried.',
      format: 'positive-int',
      default: 5000,
      env: 'PHUDGE_S3_CONNECT_TIMEOUT_MS',
    },
    requestTimeoutMs: {
      // An idle socket, not a whole transfer: a long download that keeps receiving never times out.
      doc: 'Longest time a store request may go without receiving a byte; then it fails and is retried.',
      format: 'positive-int',
      default: 30_000,
      env: 'PHUDGE_S3_REQUEST_TIMEOUT_MS',
    },
  },
  port: {
    doc: 'HTTP port of the service (API on the producer; health and metrics on a worker). 0 picks a free one.',
    format: 'port',
    default: 8080,
    env: 'PHUDGE_PORT',
  },
  host: {
    doc: 'Address the HTTP server listens on.',
    format: String,
    default: '0.0.0.0',
    env: 'PHUDGE_HOST',
  },
  api: {
    tokens: {
      doc: 'Producer: bearer tokens accepted on /v1 routes, separated by commas or newlines: name:scope+scope:token, or a plain token with every scope. Required to start the producer (or api.metricsToken).',
      format: (value: unknown) => {
        if (typeof value !== 'string') throw new Error('must be a string');
        parseApiTokens(value);
      },
      default: '',
      env: 'PHUDGE_API_TOKENS',
      sensitive: true,
    },
    metricsToken: {
      doc: 'Producer: one more token, named metrics, with only the metrics scope (GET /v1/queue), for an autoscaler such as KEDA.',
      format: String,
      default: '',
      env: 'PHUDGE_API_METRICS_TOKEN',
      sensitive: true,
    },
    bodyLimitBytes: {
      doc: 'Producer: largest request body accepted (inline items); bigger inputs go by URI.',
      format: 'nat',
      default: 16 * 1024 * 1024,
      env: 'PHUDGE_BODY_LIMIT',
    },
    url: {
      doc: 'Clients (CLI, SDK): base URL of the producer API.',
      format: String,
      default: 'http://127.0.0.1:8080',
      env: 'PHUDGE_API_URL',
    },
    token: {
      doc: 'Clients (CLI, SDK): bearer token sent to the producer.',
      format: String,
      default: '',
      env: 'PHUDGE_API_TOKEN',
      sensitive: true,
    },
  },
  input: {
    roots: {
      doc: 'Producer: comma-separated folders file:// inputs may be under (symlinks and .. resolved first). Empty: none besides a file:// store.',
      format: inputLocations('file', 'an absolute path or a file:/// URL'),
      default: '',
      env: 'PHUDGE_INPUT_ROOTS',
    },
    buckets: {
      doc: 'Producer: comma-separated s3://bucket or s3://bucket/prefix/ that s3:// inputs may be under, besides the store itself.',
      format: inputLocations('s3', 's3://bucket or s3://bucket/prefix/'),
      default: '',
      env: 'PHUDGE_INPUT_BUCKETS',
    },
  },
  queue: {
    prefix: {
      doc: 'Redis key prefix of the queues and run state, so that fleets can share a Redis.',
      format: String,
      default: 'phudge',
      env: 'PHUDGE_QUEUE_PREFIX',
    },
    attempts: {
      // With exponential backoff from 1 s, 8 attempts ride out about 4 minutes of store or Redis trouble.
      doc: 'Tries of a chunk job before it fails for good.',
      format: 'positive-int',
      default: 8,
      env: 'PHUDGE_JOB_ATTEMPTS',
    },
    backoffMs: {
      doc: 'First retry delay of a failed chunk job; doubles each time.',
      format: 'nat',
      default: 1000,
      env: 'PHUDGE_JOB_BACKOFF_MS',
    },
  },
  producer: {
    chunkSize: {
      // A chunk has a fixed cost: 4 store requests (the claim check, its read, the results, the
      // manifest) at 1.5-2 ms of CPU each through the AWS SDK, and about 120 Redis commands.
      // Measured (npm run bench, coordination_cpu_us_per_item): 235 us of coordination CPU per
      // item at 64 items a chunk, 99 at 256; on a 2-core box the fixed cost came to about 22 ms
      // of CPU a chunk (producer, workers and collector), 85 us an item at 256, 43 at 512. A
      // million items make 8,000 store requests at 512. 512 items are still about 3 s of one
      // GPU's work (Phi-3-mini, about 160 items/s on an H100), so a worker that dies loses little,
      // and a run of a few thousand items still spreads over several workers.
      doc: 'Items per chunk job (one results object each).',
      format: 'positive-int',
      default: 512,
      env: 'PHUDGE_CHUNK_SIZE',
    },
    maxQueueDepth: {
      // About 30 s of work for a few GPUs: deep enough to keep every worker fed, shallow enough
      // that Redis holds only claim checks for a moment, never a night's input.
      doc: 'Ingestion pauses while more chunk jobs than this are waiting.',
      format: 'nat',
      default: 1000,
      env: 'PHUDGE_MAX_QUEUE_DEPTH',
    },
    gradeTimeoutMs: {
      doc: 'POST /v1/grade answers 504 with the runId when its items take longer than this.',
      format: 'nat',
      default: 60_000,
      env: 'PHUDGE_GRADE_TIMEOUT_MS',
    },
    leaseMs: {
      // Renewed every third of it while the ingestion runs: a producer that dies stops renewing,
      // and another replica resumes the run about this long after.
      doc: "Lease on a run's ingestion, held by one producer replica at a time.",
      format: 'positive-int',
      default: 30_000,
      env: 'PHUDGE_INGEST_LEASE_MS',
    },
    resumeIntervalMs: {
      // One SMEMBERS and a SET NX per unfinished ingestion: cheap enough to run often.
      doc: 'How often a producer looks for ingestions no replica owns (a producer died or stopped) and resumes them.',
      format: 'positive-int',
      default: 5000,
      env: 'PHUDGE_RESUME_INTERVAL_MS',
    },
    gpuHourPrice: {
      doc: "Price of one GPU-hour (in the user's currency): a run's summary and report then show its cost (0: no cost shown).",
      format: 'non-negative-number',
      default: 0,
      env: 'PHUDGE_GPU_HOUR_PRICE',
    },
    recoveryIntervalMs: {
      // A listing of runs/ and one Redis round trip per scan: cheap, but it walks the store.
      doc: 'How often a producer looks in the store for runs Redis has lost (restart without persistence, flush) and rebuilds them.',
      format: 'positive-int',
      default: 60_000,
      env: 'PHUDGE_RECOVERY_INTERVAL_MS',
    },
  },
  webhooks: {
    urls: {
      doc: "Producer: comma-separated URLs that receive every run's run.completed, run.failed and run.cancelled events (besides a run's own notify.url).",
      format: (value: unknown) => {
        if (typeof value !== 'string') throw new Error('must be a string');
        const bad = splitList(value).filter((url) => !/^https?:\/\/\S+$/.test(url));
        if (bad.length > 0) throw new Error(`${bad.join(', ')}: each entry must be an http(s) URL`);
      },
      default: '',
      env: 'PHUDGE_WEBHOOK_URLS',
      // A receiver's URL often carries its own token (Slack's do).
      sensitive: true,
    },
    secret: {
      doc: 'Producer: key of the X-Phudge-Signature HMAC-SHA256 of each webhook body. Empty: events are sent unsigned.',
      format: String,
      default: '',
      env: 'PHUDGE_WEBHOOK_SECRET',
      sensitive: true,
    },
    timeoutMs: {
      doc: 'Producer: longest wait for a webhook receiver to answer; then the delivery is retried.',
      format: 'positive-int',
      default: 10_000,
      env: 'PHUDGE_WEBHOOK_TIMEOUT_MS',
    },
    attempts: {
      // With exponential backoff from 5 s, 10 attempts keep trying for about 40 minutes.
      doc: 'Producer: tries of a webhook delivery (network error, timeout or non-2xx answer) before it is given up.',
      format: 'positive-int',
      default: 10,
      env: 'PHUDGE_WEBHOOK_ATTEMPTS',
    },
    backoffMs: {
      doc: 'Producer: first retry delay of a webhook delivery; doubles each time.',
      format: 'nat',
      default: 5000,
      env: 'PHUDGE_WEBHOOK_BACKOFF_MS',
    },
  },
  worker: {
    concurrency: {
      // Several chunks in flight so that one model batch can mix items of several jobs and the
      // engine never idles while a chunk downloads or its results upload.
      doc: 'Chunk jobs a worker holds at once.',
      format: 'positive-int',
      default: 4,
      env: 'PHUDGE_WORKER_CONCURRENCY',
    },
    lockDurationMs: {
      // Renewed every half period by the main thread, which the engine thread never blocks; a
      // killed worker's chunks are taken over after about this long.
      doc: 'Lock on an active chunk job; a worker that stops renewing it loses the job to another.',
      format: 'nat',
      default: 30_000,
      env: 'PHUDGE_LOCK_DURATION_MS',
    },
    stalledIntervalMs: {
      doc: 'How often workers look for chunk jobs whose lock expired (a crashed worker).',
      format: 'nat',
      default: 30_000,
      env: 'PHUDGE_STALLED_INTERVAL_MS',
    },
    drainTimeoutMs: {
      doc: 'On SIGTERM, how long to wait for chunks in flight before giving up on them.',
      format: 'nat',
      default: 60_000,
      env: 'PHUDGE_DRAIN_TIMEOUT_MS',
    },
  },
};

export type PhudgeConfig = {
  model: string;
  modelCache: string;
  device: string;
  engine: { threads: number; maxBatchTokens: number; maxBatchSize: number; window: number };
  grading: { tieMargin: number };
  log: { level: string };
  redis: { url: string; cluster: boolean };
  store: { url: string };
  s3: {
    endpoint: string;
    forcePathStyle: boolean;
    region: string;
    connectTimeoutMs: number;
    requestTimeoutMs: number;
  };
  port: number;
  host: string;
  api: { tokens: string; metricsToken: string; bodyLimitBytes: number; url: string; token: string };
  input: { roots: string; buckets: string };
  queue: { prefix: string; attempts: number; backoffMs: number };
  producer: {
    chunkSize: number;
    maxQueueDepth: number;
    gradeTimeoutMs: number;
    leaseMs: number;
    resumeIntervalMs: number;
    recoveryIntervalMs: number;
    gpuHourPrice: number;
  };
  webhooks: { urls: string; secret: string; timeoutMs: number; attempts: number; backoffMs: number };
  worker: { concurrency: number; lockDurationMs: number; stalledIntervalMs: number; drainTimeoutMs: number };
};

/** Every `PHUDGE_*` variable the schema reads, for docs and drift checks. */
export function configEnvironmentVariables(): string[] {
  const names: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    for (const value of Object.values(node)) {
      if (value && typeof value === 'object' && 'env' in value)
        names.push(String((value as { env: string }).env));
      else if (value && typeof value === 'object' && !('doc' in value))
        walk(value as Record<string, unknown>);
    }
  };
  walk(schema);
  return names;
}

/**
 * Builds the validated config: defaults, then the environment, then `overrides` (CLI flags).
 * @throws UnrecoverableError naming the bad key.
 */
export function loadConfig(
  overrides: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): PhudgeConfig {
  const config = convict(schema, { env, args: [] });
  try {
    for (const [key, value] of Object.entries(overrides)) {
      if (value !== undefined) config.set(key as never, value as never);
    }
    config.validate({ allowed: 'strict' });
  } catch (error) {
    throw new UnrecoverableError(`invalid configuration: ${(error as Error).message}`);
  }
  const properties = config.getProperties() as PhudgeConfig;
  try {
    // redis.url read together with redis.cluster: the one check convict cannot make per key.
    redisTarget(properties.redis);
  } catch (error) {
    throw new UnrecoverableError(`invalid configuration: ${(error as Error).message}`);
  }
  return properties;
}

/** `cpu` or `cuda:N`, parsed. */
export function parseDevice(device: string): { kind: 'cpu' } | { kind: 'cuda'; id: number } {
  const match = DEVICE_PATTERN.exec(device);
  if (!match) throw new UnrecoverableError(`invalid device "${device}": must be cpu or cuda:N`);
  if (match[1] === 'cpu') return { kind: 'cpu' };
  return { kind: 'cuda', id: match[2] ? Number(match[2].slice(1)) : 0 };
}
