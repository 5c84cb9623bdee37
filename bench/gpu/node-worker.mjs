// The Node worker's engine path on the GPU check's bundle: the fleet's Judge (tokenizer,
// batcher, scheduler) feeding onnxruntime-node in its engine thread, on the given device. A CUDA
// request that falls back to the CPU is reported as skipped with ONNX Runtime's reason, rather
// than grading a full-size model on the CPU.
// Usage: node bench/gpu/node-worker.mjs BUNDLE_DIR ITEMS DEVICE THREADS REPEATS
//   -> {"provider", "items", "items_per_s", "tokens_per_s", "engine_busy_ratio", "runs_s": [...],
//       "cpu_runs_s": [...]}  (cpu: this process's CPU seconds per pass, all its threads)
//      or {"skipped": "why"}
import { ItemBuilder, parseJsonLine } from '@phudge/core';
import { Judge } from '@phudge/judge';
import { vicunaRequests } from '../workloads.mjs';

const [bundle, count, device, threads, repeats] = process.argv.slice(2);
if (!repeats) {
  console.error('usage: node bench/gpu/node-worker.mjs BUNDLE_DIR ITEMS DEVICE THREADS REPEATS');
  process.exit(2);
}

const warnings = [];
const judge = await Judge.open({
  model: bundle,
  device,
  threads: Number(threads),
  onWarning: (message) => warnings.push(message),
});
const lines = vicunaRequests()
  .slice(0, Number(count))
  .map((item, i) => ({ line: i + 1, text: JSON.stringify(item) }));

/** One pass over the items; returns its wall and CPU seconds and the tokens graded. */
async function pass() {
  let tokens = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for await (const record of judge.grade(iterate(lines))) {
    if ('error' in record) throw new Error(`item ${record.line} failed: ${record.error.message}`);
    tokens += record.tokens;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, tokens };
}

try {
  if (judge.engine.provider !== device) {
    console.log(
      JSON.stringify({ skipped: warnings.join('; ') || `engine runs on ${judge.engine.provider}` }),
    );
  } else {
    await pass(); // warm-up: ORT allocates its arenas and tunes kernels for these shapes
    const runs = [];
    const runMsBefore = judge.engine.stats.runMs;
    for (let i = 0; i < Number(repeats); i++) runs.push(await pass());
    const seconds = runs.map((run) => run.seconds).sort((a, b) => a - b);
    const median = seconds[Math.floor(seconds.length / 2)];
    const total = seconds.reduce((sum, s) => sum + s, 0);
    console.log(
      JSON.stringify({
        provider: judge.engine.provider,
        items: lines.length,
        items_per_s: lines.length / median,
        tokens_per_s: (runs[0]?.tokens ?? 0) / median,
        // Share of the wall time the engine spent inside session.run: the host keeping up.
        engine_busy_ratio: (judge.engine.stats.runMs - runMsBefore) / 1000 / total,
        runs_s: seconds,
        cpu_runs_s: runs.map((run) => run.cpuSeconds).sort((a, b) => a - b),
      }),
    );
  }
} finally {
  await judge.close();
}

async function* iterate(lines) {
  const items = new ItemBuilder();
  for (const { line, text } of lines) yield* items.entries({ line, value: parseJsonLine(text) });
}
