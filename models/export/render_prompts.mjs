// Prints the parity prompts as JSON, rendered by the project's own renderer (@phudge/core), so
// that the export checks the exact bytes the fleet will feed the model.
// Usage: node models/export/render_prompts.mjs [causal]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseGradingRequest, renderPrompt, resolveRubric } from '@phudge/core';

const causal = process.argv[2] === 'causal';
const examples = fileURLToPath(new URL('../../examples/chatlogs.jsonl', import.meta.url));
const prompts = [];
readFileSync(examples, 'utf8')
  .split('\n')
  .forEach((line, i) => {
    if (prompts.length >= 12 || line.trim() === '') return;
    let request;
    try {
      request = parseGradingRequest(JSON.parse(line), i + 1);
    } catch {
      return;
    }
    const rubric = request.rubric === undefined ? undefined : resolveRubric(request.rubric).text;
    const fields = {
      instruction: request.instruction,
      response: request.responses[0],
      reference: request.reference,
      rubric,
    };
    prompts.push(renderPrompt('phudge', fields) + (causal ? '[RESULT] ' : ''));
  });
console.log(JSON.stringify(prompts));
