// npm run bench: every benchmark, a table of figures against their targets, and
// bench/results/latest.json. Not part of npm test: figures, not pass/fail on a noisy machine.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { costFigures } from './figures/costs.mjs';
import { engineFigures } from './figures/engine.mjs';
import { engineVsPytorchFigures } from './figures/engine-vs-pytorch.mjs';
import { ingestFigures } from './figures/ingest.mjs';
import { pipelineFigures } from './figures/pipeline.mjs';

/**
 * Targets from the performance issues: [comparison, value]; undefined means "report it". The
 * targets are per-item costs and ratios against a floor measured in the same run, which hold on
 * any machine; absolute rates only report how fast this machine's cores are.
 */
const TARGETS = {
  padding_efficiency: ['>=', 0.92],
  host_vs_tokenizer: ['<=', 1.25],
  engine_busy_ratio: ['>=', 0.95],
  pipeline_vs_engine: ['>=', 0.9],
  redis_bytes_per_queued_item: ['<=', 50],
  coordination_vs_tokenizer: ['<=', 0.25],
  gpu_workers_per_redis_core: ['>=', 200],
  ingest_vs_json_floor: ['<=', 3],
  // The product's engine must beat the script a user would write instead (transformers, SDPA).
  engine_vs_pytorch: ['>=', 1.5],
  engine_vs_pytorch_wide: ['>=', 1.5],
  coordination_cpu_us_per_item: undefined,
  redis_cpu_us_per_item: undefined,
  redis_commands_per_item: undefined,
  store_requests_per_item: undefined,
  producer_items_per_s: undefined,
  fleet_items_per_s: undefined,
  naive_speedup: undefined,
  tokenize_items_per_s: undefined,
};

const benchmarks = {
  engine: engineFigures,
  pipeline: pipelineFigures,
  ingest: ingestFigures,
  costs: costFigures,
  tokenize: tokenizeFigures,
  'engine-vs-pytorch': engineVsPytorchFigures,
};

async function tokenizeFigures() {
  const script = fileURLToPath(new URL('./figures/tokenize.mjs', import.meta.url));
  const out = execFileSync(process.execPath, [script], {
    encoding: 'utf8',
    env: { ...process.env, RAYON_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' },
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

// `node bench/run.mjs --one NAME`: one benchmark, its figures as JSON on the last line of stdout.
if (process.argv[2] === '--one') {
  const figures = await benchmarks[process.argv[3]]();
  process.stdout.write(`\n${JSON.stringify(figures)}\n`);
  process.exit(0);
}

/**
 * Each benchmark runs in a process of its own: the CPU-time figures count a whole process, and one
 * that has already run others carries their heap, JIT state and threads (the ingest figure came out
 * a third higher after the engine benchmarks than alone).
 */
function runAlone(name) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

const only = process.argv.slice(2);
const unknown = only.filter((name) => !(name in benchmarks));
if (unknown.length > 0)
  throw new Error(`no benchmark ${unknown.join(', ')}: ${Object.keys(benchmarks).join(', ')}`);
const figures = {};
const details = {};
const started = performance.now();
for (const name of Object.keys(benchmarks).filter((name) => only.length === 0 || only.includes(name))) {
  const t = performance.now();
  process.stderr.write(`bench ${name} ...\n`);
  const { details: more, ...values } = runAlone(name);
  Object.assign(figures, values);
  details[name] = { ...more, seconds: Number(((performance.now() - t) / 1000).toFixed(1)) };
}

const met = (name) => {
  const [comparison, value] = TARGETS[name] ?? [];
  if (comparison === undefined || figures[name] === undefined) return undefined;
  return comparison === '>=' ? figures[name] >= value : figures[name] <= value;
};
const rows = Object.entries(figures).map(([name, value]) => ({
  figure: name,
  value: Number(value.toPrecision(4)),
  target: TARGETS[name] ? TARGETS[name].join(' ') : 'report',
  met: met(name) === undefined ? '' : met(name) ? 'yes' : 'NO',
}));
// A target whose benchmark did not run (or is not built yet) still shows, so that it is not forgotten.
for (const [name, target] of Object.entries(TARGETS)) {
  if (target && !(name in figures))
    rows.push({ figure: name, value: NaN, target: target.join(' '), met: 'not measured' });
}
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
  writeFileSync(
    `${results}latest.json`,
    `${JSON.stringify({ figures, targets: targetsJson(), machine, details }, null, 2)}\n`,
  );
process.exit(0);

/** Every target with its figure (null where not measured) and whether it is met. */
function targetsJson() {
  return Object.fromEntries(
    Object.entries(TARGETS)
      .filter(([, target]) => target)
      .map(([name, [comparison, value]]) => [
        name,
        { target: `${comparison} ${value}`, value: figures[name] ?? null, met: met(name) ?? null },
      ]),
  );
}
