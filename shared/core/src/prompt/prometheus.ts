import type { PromptFields } from './fields.js';

/**
 * Prometheus-style prompts (the layout of the Prometheus judge benchmarks `phudge eval` ships), for
 * bundles whose manifest says `template: "prometheus"`. Plain text, no chat markers: the text ends
 * with `###Feedback: ` where such a judge starts writing.
 */
const OUTPUT_FORMAT_ABSOLUTE =
  '3. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"\n' +
  '4. Please do not generate any other opening, closing, and explanations.';

/** A Prometheus prompt always carries a rubric; a request without one gets this generic criterion. */
export const PROMETHEUS_DEFAULT_CRITERIA = 'helpfulness';

export function renderPrometheusAbsolute(fields: PromptFields & { rubric: string }): string {
  const withReference = fields.reference !== undefined;
  const given = withReference
    ? 'a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.'
    : 'a response to evaluate, and a score rubric representing a evaluation criteria are given.';
  let text =
    '###Task Description:\n' +
    `An instruction (might include an Input inside it), ${given}\n` +
    '1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.\n' +
    '2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.\n' +
    `${OUTPUT_FORMAT_ABSOLUTE}\n\n` +
    `###The instruction to evaluate:\n${fields.instruction}\n\n` +
    `###Response to evaluate:\n${fields.response}\n\n`;
  if (withReference) text += `###Reference Answer (Score 5):\n${fields.reference}\n\n`;
  return `${text}###Score Rubrics:\n${fields.rubric}\n\n###Feedback: `;
}

/** The pairwise Prometheus layout: both responses in one prompt, the judge names A or B. */
export function renderPrometheusRelative(fields: {
  instruction: string;
  responses: [string, string];
  reference?: string;
  rubric: string;
}): string {
  const withReference = fields.reference !== undefined;
  const given = withReference
    ? 'two responses to evaluate, a reference answer, and a score rubric representing a evaluation criteria are given.'
    : 'two responses to evaluate, and a score rubric representing a evaluation criteria are given.';
  let text =
    '###Task Description:\n' +
    `An instruction (might include an Input inside it), ${given}\n` +
    '1. Write a detailed feedback that assess the quality of two responses strictly based on the given score rubric, not evaluating in general.\n' +
    '2. After writing a feedback, choose a better response between Response A and Response B. You should refer to the score rubric.\n' +
    '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"\n' +
    '4. Please do not generate any other opening, closing, and explanations.\n\n' +
    `###Instruction:\n${fields.instruction}\n\n` +
    `###Response A:\n${fields.responses[0]}\n\n` +
    `###Response B:\n${fields.responses[1]}\n\n`;
  if (withReference) text += `###Reference Answer:\n${fields.reference}\n\n`;
  return `${text}###Score Rubric:\n${fields.rubric}\n\n###Feedback: `;
}

const SECTION_HEADERS = {
  instruction: 'The instruction to evaluate',
  response: 'Response to evaluate',
  reference: 'Reference Answer (Score 5)',
  rubric: 'Score Rubrics',
} as const;

/**
 * Splits an absolute Prometheus prompt (as in the public judge benchmarks) back into its bodies,
 * so that benchmark items can be re-rendered with a bundle's own template.
 * @returns undefined when the text is not such a prompt.
 */
export function parsePrometheusAbsolute(prompt: string): PromptFields | undefined {
  const names = Object.values(SECTION_HEADERS)
    .map((h) => h.replace(/[()]/g, '\\$&'))
    .join('|');
  const parts = prompt.split(new RegExp(`\\n\\n###(?=(?:${names}):\\n|Feedback: $)`));
  const found: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const colon = part.indexOf(':\n');
    if (colon > 0) found[part.slice(0, colon)] = part.slice(colon + 2);
  }
  const instruction = found[SECTION_HEADERS.instruction];
  const response = found[SECTION_HEADERS.response];
  if (instruction === undefined || response === undefined) return undefined;
  const fields: PromptFields = { instruction, response };
  const reference = found[SECTION_HEADERS.reference];
  const rubric = found[SECTION_HEADERS.rubric];
  if (reference !== undefined) fields.reference = reference;
  if (rubric !== undefined) fields.rubric = rubric;
  return fields;
}
