import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  createLogger,
  type GradingMode,
  isErrorResult,
  loadConfig,
  type RubricSpec,
  type RunSummary,
  rubricSpecSchema,
  SummaryBuilder,
  UnrecoverableError,
} from '@phudge/core';
import { openConfiguredJudge } from '@phudge/judge';
import { openLines } from '../input.js';
import { openOutput, writeOutput } from '../output.js';
import { DEFAULT_MODEL_DIR } from '../paths.js';
import { Progress } from '../progress.js';
import { UsageError } from '../usage.js';

export const GRADE_USAGE = `Usage: phudge grade <input.jsonl|-> [options]

Grades a JSONL file of chatbot logs in one process (no Redis, no S3). One result line per
input line, in input order; a bad line becomes an error record and the run goes on.

Options:
  -o, --output FILE         write results here (default: stdout)
  --model DIR               judge bundle (default: the untrained test judge models/tiny-judge)
  --rubric NAME|TEXT|FILE   rubric for lines without one: a library name (helpfulness, ...),
                            a criterion, or a file holding either or a JSON rubric object
  --mode absolute|relative  require one response (absolute) or two (relative) per line
  --max-batch-tokens N      padded tokens per model batch (PHUDGE_MAX_BATCH_TOKENS)
  --threads N               ONNX Runtime threads, 0 = one per core (PHUDGE_THREADS)
  --device cpu|cuda:N       execution provider (PHUDGE_DEVICE)
  --summary FILE            also write the run summary as JSON
  --strict                  exit with status 3 if any line was bad
  -h, --help                show this help`;

/** Exit status when --strict and a line was bad. */
export const EXIT_BAD_LINES = 3;

export async function gradeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      model: { type: 'string' },
      rubric: { type: 'string' },
      mode: { type: 'string' },
      'max-batch-tokens': { type: 'string' },
      threads: { type: 'string' },
      device: { type: 'string' },
      summary: { type: 'string' },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${GRADE_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError('grade takes exactly one input (a JSONL file, or - for stdin)', GRADE_USAGE);
  const input = positionals[0] as string;
  const mode = parseMode(values.mode);
  const config = loadConfig({
    model: values.model,
    device: values.device,
    'engine.threads': integerFlag('--threads', values.threads),
    'engine.maxBatchTokens': integerFlag('--max-batch-tokens', values['max-batch-tokens']),
  });
  const logger = createLogger(config.log.level, 'phudge-grade');
  const rubric = values.rubric === undefined ? undefined : readRubricFlag(values.rubric);

  const source = await openLines(input);
  const judge = await openConfiguredJudge(config, config.model || DEFAULT_MODEL_DIR, {
    ...(mode ? { mode } : {}),
    ...(rubric !== undefined ? { rubric } : {}),
    onWarning: (message) => logger.warn(message),
  });
  if (judge.bundle.manifest.untrained) {
    process.stderr.write(
      `phudge: ${judge.modelId} is an untrained test model: its scores mean nothing.\n` +
        '        Export real PHUDGE weights to a bundle (see models/README.md) and pass --model DIR or set PHUDGE_MODEL.\n',
    );
  }

  const output: Writable = values.output ? await openOutput(values.output) : process.stdout;
  const progress = new Progress(logger, source);
  const summary = new SummaryBuilder();
  const started = performance.now();
  try {
    for await (const record of judge.grade(source.lines)) {
      summary.add(record);
      progress.tick();
      if (!output.write(`${JSON.stringify(record)}\n`)) await once(output, 'drain');
      if (isErrorResult(record)) logger.debug({ line: record.line, error: record.error }, 'bad input line');
    }
  } finally {
    progress.done();
    await judge.close();
    if (output !== process.stdout) {
      output.end();
      await once(output, 'finish');
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const result = summary.build();
  const stats = judge.stats;
  const report = {
    ...result,
    seconds: Number(seconds.toFixed(3)),
    itemsPerSecond: Number((result.items / Math.max(seconds, 1e-9)).toFixed(2)),
    paddingEfficiency: stats.paddedTokens ? Number((stats.realTokens / stats.paddedTokens).toFixed(4)) : 1,
    model: judge.modelId,
    provider: judge.engine.provider,
  };
  process.stderr.write(formatSummary(report));
  if (values.summary) await writeOutput(values.summary, `${JSON.stringify(report, null, 2)}\n`);
  return values.strict && result.errors > 0 ? EXIT_BAD_LINES : 0;
}

function parseMode(value: string | undefined): GradingMode | undefined {
  if (value === undefined) return undefined;
  if (value === 'absolute' || value === 'relative') return value;
  throw new UsageError(`--mode must be absolute or relative, not "${value}"`, GRADE_USAGE);
}

function integerFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`${flag} must be a whole number, not "${value}"`, GRADE_USAGE);
  return Number(value);
}

/** A file path (holding a name, a criterion, or a JSON rubric object), else the text itself. */
function readRubricFlag(value: string): RubricSpec {
  if (!existsSync(value)) return value;
  const text = readFileSync(value, 'utf8').trim();
  if (!text.startsWith('{')) return text;
  const parsed = rubricSpecSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new UnrecoverableError(
      `rubric file ${value} is not a rubric object: ${parsed.error.issues[0]?.message}`,
    );
  return parsed.data;
}

function formatSummary(
  report: RunSummary & { seconds: number; itemsPerSecond: number; paddingEfficiency: number },
): string {
  const mean = report.meanScore === null ? 'n/a' : report.meanScore.toFixed(3);
  const most = Math.max(1, ...Object.values(report.histogram));
  const bars = Object.entries(report.histogram)
    .map(([score, count]) => `  ${score} ${'█'.repeat(Math.round((count / most) * 30)).padEnd(30)} ${count}`)
    .join('\n');
  return (
    `graded ${report.items} items in ${report.seconds.toFixed(1)} s (${report.itemsPerSecond.toFixed(1)} items/s): ` +
    `${report.graded} scored, ${report.errors} errors, ${report.truncated} truncated, ${report.sanitized} sanitized\n` +
    `mean score ${mean}, padding efficiency ${report.paddingEfficiency.toFixed(3)}\n${bars}\n`
  );
}
