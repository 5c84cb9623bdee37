// tokenize_items_per_s: the native tokenizer on rendered Vicuna prompts, on one core. Run as its
// own process (bench/run.mjs sets RAYON_NUM_THREADS=1 so the Rust side uses one thread).
import { fileURLToPath } from 'node:url';
import { parseGradingRequest } from '@phudge/core';
import {
  buildPromptFields,
  createSanitizer,
  JudgeTokenizer,
  loadBundle,
  promptRenderer,
} from '@phudge/judge';
import { median } from '../harness/stats.mjs';
import { vicunaRequests } from '../workloads.mjs';

const bundle = await loadBundle(fileURLToPath(new URL('../../models/tiny-judge', import.meta.url)));
const tokenizer = await JudgeTokenizer.load(bundle);
const sanitize = createSanitizer(tokenizer.specialTokens);
const render = promptRenderer(bundle.manifest);
const prompts = vicunaRequests().map((item, i) =>
  render(buildPromptFields(parseGradingRequest(item, i + 1), sanitize).fields[0]),
);
await tokenizer.encode(prompts);
const rates = [];
for (let rep = 0; rep < 5; rep++) {
  const started = performance.now();
  const ids = await tokenizer.encode(prompts);
  rates.push(ids.length / ((performance.now() - started) / 1000));
}
console.log(JSON.stringify({ tokenize_items_per_s: median(rates) }));
