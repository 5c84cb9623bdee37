// The parity prompts, made exactly as the fleet makes them: the first 12 good requests of
// examples/chatlogs.jsonl, sanitized and rendered with the bundle's template (@phudge/judge), then
// encoded by the bundle's own tokenizer the way workers encode them.
// Usage: node models/export/parity_inputs.mjs BUNDLE_DIR
//   -> {"prompts": [...], "ids": [[...]], "pad_id": N, "padding_side": "left"|"right",
//       "bos_id": N|null, "eos_id": N|null}
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseGradingRequest } from '@phudge/core';
import {
  buildPromptFields,
  createSanitizer,
  JudgeTokenizer,
  loadBundle,
  promptRenderer,
} from '@phudge/judge';

const PROMPTS = 12;
if (!process.argv[2]) {
  console.error('usage: node models/export/parity_inputs.mjs BUNDLE_DIR');
  process.exit(2);
}
const bundle = await loadBundle(process.argv[2]);
const tokenizer = await JudgeTokenizer.load(bundle);
const render = promptRenderer(bundle.manifest);
const sanitize = createSanitizer(tokenizer.specialTokens);

const examples = fileURLToPath(new URL('../../examples/chatlogs.jsonl', import.meta.url));
const prompts = [];
for (const [i, line] of readFileSync(examples, 'utf8').split('\n').entries()) {
  if (prompts.length >= PROMPTS || line.trim() === '') continue;
  let request;
  try {
    request = parseGradingRequest(JSON.parse(line), i + 1);
  } catch {
    continue; // the examples hold deliberately bad lines
  }
  prompts.push(render(buildPromptFields(request, sanitize).fields[0]));
}

const ids = await tokenizer.encode(prompts);
console.log(
  JSON.stringify({
    prompts,
    ids,
    pad_id: tokenizer.padId,
    padding_side: tokenizer.paddingSide,
    // The framing the tokenizer put around each prompt's tokens, for comparing other tokenizers.
    bos_id: tokenizer.bosId ?? null,
    eos_id: tokenizer.eosId ?? null,
  }),
);
