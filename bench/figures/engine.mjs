// padding_efficiency, host_vs_tokenizer, engine_busy_ratio: local grading of benchmark items
// (Vicuna, HHH, PandaLM) through the real pipeline and the tiny judge on one ORT thread.
import { fileURLToPath } from 'node:url';
import { ItemBuilder, parseGradingRequest, parseJsonLine } from '@phudge/core';
import { buildPromptFields, createSanitizer, Judge, promptRenderer } from '@phudge/judge';
import { cpuMs, median } from '../harness/stats.mjs';
import { hhhRequests, pandalmRequests, vicunaRequests } from '../workloads.mjs';

const MODEL = fileURLToPath(new URL('../../models/tiny-judge', import.meta.url));

/** BENCHMARK HARNESS ONLY: an engine that answers at once and costs no CPU, to measure the host alone. */
async function instantEngine() {
  const stats = { batches: 0, rows: 0, runMs: 0 };
  return {
    provider: 'instant stand-in',
    stats,
    async run(batch) {
      stats.batches += 1;
      stats.rows += batch.rows;
      return { logits: new Float32Array(batch.rows).fill(3), rows: batch.rows, runMs: 0 };
    },
    async close() {},
  };
}

export async function engineFigures({ repetitions = 3 } = {}) {
  const items = [
    ...vicunaRequests().slice(0, 160),
    ...hhhRequests().slice(0, 100),
    ...pandalmRequests().slice(0, 200),
  ];
  const lines = items.map((item, i) => ({ line: i + 1, text: JSON.stringify(item) }));
  const host = await hostCpuPerItem(lines, repetitions);
  let batches = [];
  const judge = await Judge.open({
    model: MODEL,
    threads: 1,
    onBatch: (report) => batches.push({ ...report, at: performance.now() }),
  });
  try {
    await drain(judge.grade(iterate(lines.slice(0, 64)))); // warm-up
    const busy = [];
    let padding = 0;
    for (let rep = 0; rep < repetitions; rep++) {
      batches = [];
      const runBefore = judge.engine.stats.runMs;
      const real = judge.stats.realTokens;
      const padded = judge.stats.paddedTokens;
      await drain(judge.grade(iterate(lines)), (record) => JSON.stringify(record));
      const run = judge.engine.stats.runMs - runBefore;
      const first = batches[0];
      const last = batches.at(-1);
      busy.push(run / (last.at - (first.at - first.runMs)));
      padding = (judge.stats.realTokens - real) / (judge.stats.paddedTokens - padded);
    }
    const tokenizer = await tokenizerCpuPerItem(judge, items, repetitions);
    return {
      padding_efficiency: padding,
      host_vs_tokenizer: host / tokenizer,
      engine_busy_ratio: median(busy),
      details: { items: items.length, hostCpuMsPerItem: host, tokenizerCpuMsPerItem: tokenizer },
    };
  } finally {
    await judge.close();
  }
}

/**
 * Host CPU per item outside session.run: the whole local pipeline (parse, render, tokenize,
 * truncate, batch, decode, serialize) with the model replaced by an instant stand-in.
 */
async function hostCpuPerItem(lines, repetitions) {
  const judge = await Judge.open({ model: MODEL, startEngine: instantEngine });
  try {
    await drain(judge.grade(iterate(lines.slice(0, 64))));
    const runs = [];
    for (let rep = 0; rep < repetitions; rep++) {
      const before = cpuMs();
      await drain(judge.grade(iterate(lines)), (record) => JSON.stringify(record));
      runs.push((cpuMs() - before) / lines.length);
    }
    return median(runs);
  } finally {
    await judge.close();
  }
}
/** CPU of the native tokenizer alone on the same prompts, per item, in windows as the judge uses. */
async function tokenizerCpuPerItem(judge, items, repetitions) {
  const sanitize = createSanitizer(judge.tokenizer.specialTokens);
  const render = promptRenderer(judge.bundle.manifest);
  const prompts = items.flatMap((item, i) =>
    buildPromptFields(parseGradingRequest(item, i + 1), sanitize).fields.map((fields) => render(fields)),
  );
  const runs = [];
  for (let rep = 0; rep < repetitions; rep++) {
    const before = cpuMs();
    for (let i = 0; i < prompts.length; i += 1024) await judge.tokenizer.encode(prompts.slice(i, i + 1024));
    runs.push((cpuMs() - before) / items.length);
  }
  return median(runs);
}

/** JSONL lines through the items step (parse, validate), as `phudge grade` feeds the judge. */
async function* iterate(lines) {
  const items = new ItemBuilder();
  for (const { line, text } of lines) yield* items.entries({ line, value: parseJsonLine(text) });
}

async function drain(records, use = () => {}) {
  for await (const record of records) use(record);
}
