// The model batches a worker feeds its engine for the first N Vicuna items: the fleet's own
// path (request parsing, sanitizing, the bundle's template and tokenizer, truncation, the
// batcher and the scheduler's padding) with the model replaced by a stand-in that records each
// batch. The GPU check (gpu_check.py) runs these exact batches through ONNX Runtime and PyTorch.
// Usage: node bench/gpu/batches.mjs BUNDLE_DIR ITEMS
//   -> {"items", "prompts", "real_tokens", "padded_tokens", "item_tokens": [...],
//       "batches": [{"rows", "columns", "input_ids": [[...]], "attention_mask": [[...]]}]}
import { ItemBuilder, parseJsonLine } from '@phudge/core';
import { Judge } from '@phudge/judge';
import { vicunaRequests } from '../workloads.mjs';

const [bundle, count] = process.argv.slice(2);
if (!bundle || !count) {
  console.error('usage: node bench/gpu/batches.mjs BUNDLE_DIR ITEMS');
  process.exit(2);
}

/** BENCHMARK HARNESS ONLY: records the padded batches instead of running a model. */
function recordingEngine(batches) {
  return async () => ({
    provider: 'recording stand-in',
    stats: { batches: 0, rows: 0, runMs: 0 },
    async run(batch) {
      batches.push(batch);
      return { logits: new Float32Array(batch.rows).fill(3), rows: batch.rows, runMs: 0 };
    },
    async close() {},
  });
}

function rowsOf(flat, rows, columns) {
  return Array.from({ length: rows }, (_, r) =>
    Array.from(flat.subarray(r * columns, (r + 1) * columns), Number),
  );
}

const batches = [];
// The worker's defaults (PHUDGE_MAX_BATCH_TOKENS, PHUDGE_MAX_BATCH_SIZE): Judge.open's own.
const judge = await Judge.open({ model: bundle, startEngine: recordingEngine(batches) });
const items = vicunaRequests().slice(0, Number(count));
const itemTokens = [];
try {
  const lines = items.map((item, i) => ({ line: i + 1, text: JSON.stringify(item) }));
  for await (const record of judge.grade(iterate(lines))) {
    if ('error' in record) throw new Error(`item ${record.line} failed: ${record.error.message}`);
    itemTokens.push(record.tokens);
  }
} finally {
  await judge.close();
}
console.log(
  JSON.stringify({
    items: items.length,
    prompts: judge.stats.prompts,
    real_tokens: judge.stats.realTokens,
    padded_tokens: judge.stats.paddedTokens,
    item_tokens: itemTokens,
    batches: batches.map((b) => ({
      rows: b.rows,
      columns: b.columns,
      input_ids: rowsOf(b.inputIds, b.rows, b.columns),
      attention_mask: rowsOf(b.attentionMask, b.rows, b.columns),
    })),
  }),
);

async function* iterate(lines) {
  const items = new ItemBuilder();
  for (const { line, text } of lines) yield* items.entries({ line, value: parseJsonLine(text) });
}
