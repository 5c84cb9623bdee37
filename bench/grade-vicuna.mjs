// items/s of `phudge grade` on the Vicuna set, and the padding efficiency there.
// Usage: node bench/grade-vicuna.mjs [repetitions]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { toJsonl } from '@phudge/core';
import { gradeWithSummary } from './harness/cli.mjs';
import { median } from './harness/stats.mjs';
import { vicunaRequests } from './workloads.mjs';

const repetitions = Number(process.argv[2] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'bench-vicuna-'));
const input = join(dir, 'vicuna.jsonl');
writeFileSync(input, toJsonl(vicunaRequests()));

const runs = [];
for (let i = 0; i < repetitions; i++) {
  runs.push(gradeWithSummary(input, join(dir, 'out.jsonl'), join(dir, `summary-${i}.json`)));
}
rmSync(dir, { recursive: true, force: true });

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
