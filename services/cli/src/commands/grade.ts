import { parseArgs } from 'node:util';
import {
  createLogger,
  ItemBuilder,
  isErrorResult,
  loadConfig,
  type ResultRecord,
  type RunSummary,
  SummaryBuilder,
} from '@phudge/core';
import { openConfiguredJudge } from '@phudge/judge';
import { openItems } from '../input.js';
import { ITEM_FLAGS, ITEM_FLAGS_USAGE, itemOptionsFromFlags } from '../item-flags.js';
import { writeOutput } from '../output.js';
import { DEFAULT_MODEL_DIR } from '../paths.js';
import { Progress } from '../progress.js';
import { jsonlSink, parquetSink, type ResultsSink } from '../results-sink.js';
import { UsageError } from '../usage.js';

export const GRADE_USAGE = `Usage: phudge grade <input>... [options]

Grades chatbot logs in one process (no Redis, no S3). An input is a file (.jsonl, .jsonl.gz,
.gz, .parquet), a folder, a glob, an s3:// object, prefix (ending in /) or glob, or - for
stdin. One result per item (per item and rubric with --rubrics), in input order, naming its
source and line; a bad item becomes an error record and the run goes on.

Options:
  -o, --output FILE         write results here (default: stdout); FILE.parquet writes Parquet
  --format jsonl|parquet    the output format (default: from -o's extension, else jsonl)
  --model DIR               judge bundle (default: the untrained test judge models/tiny-judge)
${ITEM_FLAGS_USAGE}
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
      format: { type: 'string' },
      ...ITEM_FLAGS,
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
  if (positionals.length === 0)
    throw new UsageError(
      'grade takes at least one input (a file, folder, glob, s3:// URI, or - for stdin)',
      GRADE_USAGE,
    );
  const items = new ItemBuilder(itemOptionsFromFlags(values, GRADE_USAGE));
  const sink = resultsSink(values.format, values.output);
  const config = loadConfig({
    model: values.model,
    device: values.device,
    'engine.threads': integerFlag('--threads', values.threads),
    'engine.maxBatchTokens': integerFlag('--max-batch-tokens', values['max-batch-tokens']),
  });
  const logger = createLogger(config.log.level, 'phudge-grade');

  const source = await openItems(positionals, config.s3, items);
  const judge = await openConfiguredJudge(config, config.model || DEFAULT_MODEL_DIR, {
    onWarning: (message) => logger.warn(message),
  });
  if (judge.bundle.manifest.untrained) {
    process.stderr.write(
      `phudge: ${judge.modelId} is an untrained test model: its scores mean nothing.\n` +
        '        Export real PHUDGE weights to a bundle (see models/README.md) and pass --model DIR or set PHUDGE_MODEL.\n',
    );
  }

  const progress = new Progress(logger, source);
  const summary = new SummaryBuilder();
  const started = performance.now();
  async function* graded(): AsyncGenerator<ResultRecord> {
    for await (const record of judge.grade(source.entries)) {
      summary.add(record);
      progress.tick();
      if (isErrorResult(record))
        logger.debug({ source: record.source, line: record.line, error: record.error }, 'bad input item');
      yield record;
    }
  }
  try {
    await sink(graded());
  } finally {
    progress.done();
    await judge.close();
    await source.close();
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

function resultsSink(format: string | undefined, output: string | undefined): ResultsSink {
  if (format !== undefined && format !== 'jsonl' && format !== 'parquet')
    throw new UsageError(`--format must be jsonl or parquet, not "${format}"`, GRADE_USAGE);
  const parquet =
    format === 'parquet' || (format === undefined && output?.toLowerCase().endsWith('.parquet'));
  if (!parquet) return jsonlSink(output);
  if (!output) throw new UsageError('Parquet output needs a file: -o results.parquet', GRADE_USAGE);
  return parquetSink(output);
}

function integerFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`${flag} must be a whole number, not "${value}"`, GRADE_USAGE);
  return Number(value);
}

function formatSummary(
  report: RunSummary & { seconds: number; itemsPerSecond: number; paddingEfficiency: number },
): string {
  const mean = report.meanScore === null ? 'n/a' : report.meanScore.toFixed(3);
  const most = Math.max(1, ...Object.values(report.histogram));
  const bars = Object.entries(report.histogram)
    .map(([score, count]) => `  ${score} ${'█'.repeat(Math.round((count / most) * 30)).padEnd(30)} ${count}`)
    .join('\n');
  const rubrics = Object.entries(report.rubrics);
  const perRubric =
    rubrics.length > 1
      ? rubrics
          .map(([name, stats]) => `  ${name}: mean ${stats.mean.toFixed(3)} over ${stats.count} scores\n`)
          .join('')
      : '';
  return (
    `graded ${report.items} items in ${report.seconds.toFixed(1)} s (${report.itemsPerSecond.toFixed(1)} items/s): ` +
    `${report.graded} scored, ${report.errors} errors, ${report.truncated} truncated, ${report.sanitized} sanitized\n` +
    `mean score ${mean}, padding efficiency ${report.paddingEfficiency.toFixed(3)}\n${perRubric}${bars}\n`
  );
}
