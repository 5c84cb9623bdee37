import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createS3Client,
  loadConfig,
  type ReportSummary,
  renderRunReport,
  S3ObjectStore,
  UnrecoverableError,
} from '@phudge/core';
import { UsageError } from '../usage.js';

export const REPORT_USAGE = `Usage: phudge report <run> [--baseline <run>] [-o report.html]

Writes one self-contained HTML report of a run: score histogram, means with 95% intervals per
rubric and per metadata segment, error and truncation rates, throughput; against a baseline, the
shift of the mean with its interval, a distribution-shift statistic and a one-line verdict.
A run is a summary.json, a folder holding one (phudge grade --summary), or s3://bucket/prefix/runs/<id>.`;

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      baseline: { type: 'string' },
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
  const summary = await readSummary(run);
  const baseline = values.baseline ? await readSummary(values.baseline) : undefined;
  const output = values.output ?? 'report.html';
  await writeFile(output, renderRunReport(summary, baseline, summary.runId ?? run));
  process.stderr.write(`wrote ${output}\n`);
  return 0;
}

/** summary.json of a run given as a file, a folder, or an s3:// run prefix. */
export async function readSummary(run: string): Promise<ReportSummary> {
  try {
    if (run.startsWith('s3://')) {
      const config = loadConfig();
      const store = new S3ObjectStore(run.replace(/\/+$/, ''), createS3Client(config.s3));
      try {
        return JSON.parse((await store.get('summary.json')).toString('utf8'));
      } finally {
        await store.close();
      }
    }
    const path = (await stat(run)).isDirectory() ? join(run, 'summary.json') : run;
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UnrecoverableError(`cannot read the summary of run ${run}: ${(error as Error).message}`);
  }
}
