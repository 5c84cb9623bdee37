import convict from 'convict';
import { UnrecoverableError } from './errors.js';

const DEVICE_PATTERN = /^(cpu|cuda(:\d+)?)$/;

/**
 * The one configuration schema of every PHUDGE process. Each key is read from its `PHUDGE_*`
 * variable, validated once at start-up; a bad value fails fast naming the key.
 */
const schema = {
  model: {
    doc: 'Judge bundle directory. Empty: the untrained test judge models/tiny-judge.',
    format: String,
    default: '',
    env: 'PHUDGE_MODEL',
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
      format: 'nat',
      default: 16384,
      env: 'PHUDGE_MAX_BATCH_TOKENS',
    },
    maxBatchSize: {
      doc: 'Most prompts in one model batch, whatever their length.',
      format: 'nat',
      default: 64,
      env: 'PHUDGE_MAX_BATCH_SIZE',
    },
    window: {
      // Items are sorted by length within a window before batching: larger windows pad less,
      // smaller ones bound memory and the delay before the first result.
      doc: 'Prepared items sorted together before they are cut into batches.',
      format: 'nat',
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
};

export type PhudgeConfig = {
  model: string;
  device: string;
  engine: { threads: number; maxBatchTokens: number; maxBatchSize: number; window: number };
  grading: { tieMargin: number };
  log: { level: string };
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
  return config.getProperties() as PhudgeConfig;
}

/** `cpu` or `cuda:N`, parsed. */
export function parseDevice(device: string): { kind: 'cpu' } | { kind: 'cuda'; id: number } {
  const match = DEVICE_PATTERN.exec(device);
  if (!match) throw new UnrecoverableError(`invalid device "${device}": must be cpu or cuda:N`);
  if (match[1] === 'cpu') return { kind: 'cpu' };
  return { kind: 'cuda', id: match[2] ? Number(match[2].slice(1)) : 0 };
}
