import type { PromptFields } from './fields.js';

/**
 * The PHUDGE prompt: Phi-3 chat layout with one of the four system prompts PHUDGE was trained on.
 * Must reproduce the golden prompts (test/fixtures/phudge_prompts.jsonl) byte for byte: a judge that
 * sees a prompt one byte off its training prompt gives different scores. The texts below (typos included) are the
 * training texts.
 */
export type PhudgeVariant = 'sys_only' | 'rubric_only' | 'ref_only' | 'ref_rub';

const OUTPUT_FORMAT =
  '3. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"\n' +
  '4. Please do not generate any other opening, closing, and explanations.';

const SYSTEM_PROMPTS: Record<PhudgeVariant, string> = {
  sys_only:
    '###Task Description:\n' +
    'An instruction (might include an Input inside it) and a response to evaluate are given.\n' +
    '1. Write a detailed feedback that assess the quality of the response strictly.\n' +
    '2. After writing a feedback, write a score that is an integer between 1 and 5.\n' +
    OUTPUT_FORMAT,
  rubric_only:
    '###Task Description:\n' +
    'An instruction (might include an Input inside it), a response to evaluate and a score rubric representing a evaluation criteria are given.\n' +
    '1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.\n' +
    '2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.\n' +
    OUTPUT_FORMAT,
  ref_only:
    '###Task Description:\n' +
    'An instruction (might include an Input inside it), a response to evaluate and a reference answer that gets a score of 5 are given.\n' +
    '1. Write a detailed feedback that assess the quality of the response.\n' +
    '2. After writing a feedback, write a score that is an integer between 1 and 5. You can refer to the reference answer (which has a perfect score of 5) to get the idea for scoring.\n' +
    OUTPUT_FORMAT,
  ref_rub:
    '###Task Description:\n' +
    'An instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.\n' +
    '1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general. You can also refer to the reference answer (which has a perfect score of 5) to get the idea for scoring.\n' +
    '2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.\n' +
    OUTPUT_FORMAT,
};

export function phudgeVariant(fields: PromptFields): PhudgeVariant {
  if (fields.reference !== undefined) return fields.rubric !== undefined ? 'ref_rub' : 'ref_only';
  return fields.rubric !== undefined ? 'rubric_only' : 'sys_only';
}

export function renderPhudgePrompt(fields: PromptFields): string {
  let user = `###The instruction to evaluate:\n${fields.instruction}\n\n###Response to evaluate:\n${fields.response}`;
  if (fields.reference !== undefined) user += `\n\n###Reference Answer (Score 5):\n${fields.reference}`;
  if (fields.rubric !== undefined) user += `\n\n###Score Rubrics:\n${fields.rubric}`;
  const system = SYSTEM_PROMPTS[phudgeVariant(fields)];
  return `<|system|>\n${system}<|end|>\n\n<|user|>\n${user}<|end|>\n\n<|assistant|>\n`;
}
