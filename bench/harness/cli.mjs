// The phudge CLI as benchmarks run it: a child process, quiet logs.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PHUDGE_BIN = fileURLToPath(new URL('../../services/cli/bin/phudge.js', import.meta.url));

/** Runs `phudge grade input -o output --summary summaryPath` and returns the parsed summary. */
export function gradeWithSummary(input, output, summaryPath) {
  const run = spawnSync(
    process.execPath,
    [PHUDGE_BIN, 'grade', input, '-o', output, '--summary', summaryPath],
    {
      encoding: 'utf8',
      env: { ...process.env, PHUDGE_LOG_LEVEL: 'warn' },
    },
  );
  if (run.status !== 0) throw new Error(`phudge grade failed: ${run.stderr}`);
  return JSON.parse(readFileSync(summaryPath, 'utf8'));
}
