// npm run bench: every benchmark, a table of figures against their targets, and
// bench/results/latest.json. Not part of npm test: figures, not pass/fail on a noisy machine.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { engineFigures } from './figures/engine.mjs';
import { ingestFigures } from './figures/ingest.mjs';
import { pipelineFigures } from './figures/pipeline.mjs';
import { scaleoutFigures } from './figures/scaleout.mjs';

/** Targets from the performance issue: [comparison, value]; undefined means "report it". */
const TARGETS = {
  padding_efficiency: ['>=', 0.92],
  host_vs_tokenizer: ['<=', 1.25],
  engine_busy_ratio: ['>=', 0.95],
  pipeline_vs_engine: ['>=', 0.9],
  redis_bytes_per_queued_item: ['<=', 50],
  producer_items_per_s: ['>=', 30_000],
  scaleout_efficiency_16: ['>=', 0.9],
  naive_speedup: undefined,
  tokenize_items_per_s: undefined,
};

function tokenizeFigures() {
  const script = fileURLToPath(new URL('./figures/tokenize.mjs', import.meta.url));
  const out = execFileSync(process.execPath, [script], {
    encoding: 'utf8',
    env: { ...process.env, RAYON_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' },
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

const only = process.argv.slice(2);
const benchmarks = [
  ['engine', engineFigures],
  ['pipeline', pipelineFigures],
  ['ingest', ingestFigures],
  ['scaleout', scaleoutFigures],
  ['tokenize', tokenizeFigures],
].filter(([name]) => only.length === 0 || only.includes(name));

const figures = {};
const details = {};
const started = performance.now();
for (const [name, run] of benchmarks) {
  const t = performance.now();
  process.stderr.write(`bench ${name} ...\n`);
  const { details: more, ...values } = await run();
  Object.assign(figures, values);
  details[name] = { ...more, seconds: Number(((performance.now() - t) / 1000).toFixed(1)) };
}

const rows = Object.entries(figures).map(([name, value]) => {
  const target = TARGETS[name];
  const met = target ? (target[0] === '>=' ? value >= target[1] : value <= target[1]) : undefined;
  return {
    figure: name,
    value: Number(value.toPrecision(4)),
    target: target ? `${target[0]} ${target[1]}` : 'report',
    met: met === undefined ? '' : met ? 'yes' : 'NO',
  };
});
console.table(rows);
const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
for (const [name, more] of Object.entries(details)) console.log(`${name}: ${JSON.stringify(more)}`);
console.log(`machine: ${JSON.stringify(machine)}; ${((performance.now() - started) / 1000).toFixed(0)} s`);
const results = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(results, { recursive: true });
if (only.length === 0)
  writeFileSync(`${results}latest.json`, `${JSON.stringify({ figures, machine, details }, null, 2)}\n`);
process.exit(0);
