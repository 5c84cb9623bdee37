// items/s of `phudge grade` on the Vicuna set, and the padding efficiency there.
// Usage: node bench/grade-vicuna.mjs [repetitions]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJsonl } from '@phudge/core';
import { vicunaRequests } from './workloads.mjs';

const repetitions = Number(process.argv[2] ?? 3);
const bin = fileURLToPath(new URL('../services/cli/bin/phudge.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bench-vicuna-'));
const input = join(dir, 'vicuna.jsonl');
writeFileSync(input, toJsonl(vicunaRequests()));

const runs = [];
for (let i = 0; i < repetitions; i++) {
  const summary = join(dir, `summary-${i}.json`);
  const run = spawnSync(
    process.execPath,
    [bin, 'grade', input, '-o', join(dir, 'out.jsonl'), '--summary', summary],
    {
      encoding: 'utf8',
      env: { ...process.env, PHUDGE_LOG_LEVEL: 'warn' },
    },
  );
  if (run.status !== 0) throw new Error(`phudge grade failed: ${run.stderr}`);
  runs.push(JSON.parse(readFileSync(summary, 'utf8')));
}
rmSync(dir, { recursive: true, force: true });

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const result = {
  items: runs[0].items,
  itemsPerSecond: median(runs.map((r) => r.itemsPerSecond)),
  paddingEfficiency: runs[0].paddingEfficiency,
  truncated: runs[0].truncated,
  repetitions,
  model: runs[0].model,
  machine: `${cpus().length} x ${cpus()[0]?.model}, node ${process.version}`,
};
console.table(result);
