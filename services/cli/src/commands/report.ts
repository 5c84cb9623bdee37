import { parseArgs } from 'node:util';
import { loadConfig, renderRunReport } from '@phudge/core';
import { writeOutput } from '../output.js';
import { RUN_FORMS, readRunSummary } from '../report/run-input.js';
import { UsageError } from '../usage.js';

export const REPORT_USAGE = `Usage: phudge report <run> [--baseline <run>] [--segments k1,k2] [-o report.html]

Writes one self-contained HTML report of a run: score histogram, means with 95% intervals per
rubric and per metadata segment, error and truncation rates, throughput; against a baseline, the
shift of the mean with its interval, a distribution-shift statistic and a one-line verdict.

A run (and a baseline) is ${RUN_FORMS}:
  results.jsonl                 what phudge grade -o or phudge results wrote
  DIR                           DIR/summary.json, else DIR/results/*.jsonl, else DIR/*.jsonl
  s3://bucket/prefix/runs/<id>  a fleet run (its summary.json, or its results/ parts)
  summary.json                  what a run or phudge grade --summary wrote
Without a summary.json, the summary is computed from the results.

Options:
  --segments k1,k2   metadata keys to break scores down by, for a summary computed from results
  -o FILE            where to write the report (default report.html)`;

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      baseline: { type: 'string' },
      segments: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${REPORT_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('report takes one run', REPORT_USAGE);
  const run = positionals[0] as string;
  const options = {
    s3: loadConfig().s3,
    segments: (values.segments ?? '')
      .split(',')
      .map((key) => key.trim())
      .filter(Boolean),
  };
  const summary = await readRunSummary(run, options);
  const baseline = values.baseline ? await readRunSummary(values.baseline, options) : undefined;
  const output = values.output ?? 'report.html';
  await writeOutput(output, renderRunReport(summary, baseline, summary.runId ?? run));
  process.stderr.write(`wrote ${output} (${summary.items} items, ${summary.errors} errors)\n`);
  return 0;
}
