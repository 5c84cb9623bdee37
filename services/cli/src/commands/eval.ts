import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ItemBuilder, loadConfig, type ResultRecord, toJsonl } from '@phudge/core';
import { openConfiguredJudge } from '@phudge/judge';
import { loadBenchmark } from '../eval/benchmarks.js';
import { evaluate } from '../eval/evaluate.js';
import { htmlReport, markdownReport } from '../eval/report.js';
import { DEFAULT_MODEL_DIR } from '../paths.js';
import { UsageError } from '../usage.js';

export const EVAL_USAGE = `Usage: phudge eval <vicuna|hhh|pandalm|labelled.jsonl> [--model DIR|s3://...] [-o report-dir] [--limit N]

How well the judge agrees with GPT-4 and humans on public judge benchmarks (shipped with phudge), or
on a labelled JSONL of grading requests (a numeric "label" or a "winner": A, B, tie, per line).
Writes report.md (the PHUDGE paper's table shape, published figures beside the measured ones),
report.html and results.jsonl into the report folder (default eval-<benchmark>).`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      output: { type: 'string', short: 'o' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${EVAL_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('eval takes one benchmark or labelled file', EVAL_USAGE);
  if (values.limit !== undefined && !/^\d+$/.test(values.limit))
    throw new UsageError('--limit must be a whole number', EVAL_USAGE);
  const benchmark = loadBenchmark(positionals[0] as string);
  if (values.limit) benchmark.items = benchmark.items.slice(0, Number(values.limit));
  const config = loadConfig({ model: values.model });
  const judge = await openConfiguredJudge(config, config.model || DEFAULT_MODEL_DIR);
  const started = performance.now();
  const results: ResultRecord[] = [];
  try {
    const items = new ItemBuilder();
    async function* entries() {
      for (const [i, item] of benchmark.items.entries())
        yield* items.entries({ line: i + 1, value: item.request });
    }
    for await (const record of judge.grade(entries())) {
      results.push(record);
      if (results.length % 100 === 0)
        process.stderr.write(`\r${results.length}/${benchmark.items.length} graded`);
    }
  } finally {
    await judge.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const report = {
    benchmark,
    metrics: evaluate(benchmark, results),
    model: judge.modelId,
    untrained: judge.bundle.manifest.untrained,
    seconds,
  };
  const dir = values.output ?? `eval-${benchmark.name.replace(/\.[^.]+$/, '')}`;
  await mkdir(dir, { recursive: true });
  const markdown = markdownReport(report);
  await writeFile(join(dir, 'report.md'), markdown);
  await writeFile(join(dir, 'report.html'), htmlReport(report));
  await writeFile(
    join(dir, 'results.jsonl'),
    toJsonl(results.map((record, i) => ({ ...record, label: benchmark.items[i]?.label }))),
  );
  process.stderr.write(`\n`);
  process.stdout.write(markdown);
  return 0;
}
