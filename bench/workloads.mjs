// Benchmark workloads built from the public judge benchmarks the CLI ships (services/cli/data/benchmarks).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePrometheusAbsolute } from '@phudge/core';

export const BENCHMARKS_DIR = fileURLToPath(new URL('../services/cli/data/benchmarks/', import.meta.url));

function readJson(name) {
  return JSON.parse(readFileSync(`${BENCHMARKS_DIR}${name}`, 'utf8'));
}

function fieldsOf(prompt, where) {
  const fields = parsePrometheusAbsolute(prompt);
  if (!fields) throw new Error(`${where} is not a Prometheus prompt`);
  return fields;
}

/** Vicuna-bench items as absolute grading requests (instruction, response, reference, rubric). */
export function vicunaRequests() {
  return readJson('vicuna_eval.json').map((row, i) => ({
    id: `vicuna-${i}`,
    ...fieldsOf(row.instruction, `vicuna row ${i}`),
    metadata: { category: row.category },
  }));
}

/** HHH pairs as relative requests: the chosen and the rejected response to one instruction. */
export function hhhRequests() {
  return readJson('hhh_alignment_eval.json').map((row, i) => {
    const chosen = fieldsOf(row.chosen_instruction, `hhh row ${i}`);
    const rejected = fieldsOf(row.rejected_instruction, `hhh row ${i}`);
    return {
      id: `hhh-${i}`,
      instruction: chosen.instruction,
      responses: [chosen.response, rejected.response],
      rubric: chosen.rubric,
    };
  });
}

/** PandaLM pairs as relative requests. */
export function pandalmRequests() {
  return readJson('pandalm_testset-v1.json').map((row, i) => ({
    id: `pandalm-${i}`,
    instruction: row.input ? `${row.instruction}\n\n${row.input}` : row.instruction,
    responses: [String(row.response1), String(row.response2)],
  }));
}

/** About 1 KB chat-log items in OpenAI format, as a support bot's nightly logs look. */
export function chatLogItems(count) {
  const topics = ['billing address', 'refund for order', 'password reset', 'delivery date', 'plan upgrade'];
  return Array.from({ length: count }, (_, i) => {
    const topic = topics[i % topics.length];
    const detail = 'I tried the steps in the help center but the page keeps showing an error. '.repeat(
      3 + (i % 5),
    );
    return {
      id: `chat-${i}`,
      messages: [
        { role: 'system', content: 'You are the support assistant of an online shop. Be brief and precise.' },
        { role: 'user', content: `Hi, I need help with my ${topic} (ticket ${100000 + i}). ${detail}` },
        {
          role: 'assistant',
          content: `Sorry about the trouble with your ${topic}. Please open Settings, choose Account, then follow the link in the confirmation email we just sent. If the error remains, reply here with a screenshot and I will escalate it.`,
        },
      ],
      metadata: { channel: ['web', 'app', 'email'][i % 3], locale: 'en-US' },
    };
  });
}
