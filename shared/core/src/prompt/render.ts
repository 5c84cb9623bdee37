import { resolveRubric } from '../rubrics/render.js';
import type { TemplateName } from '../schemas/manifest.js';
import type { PromptFields } from './fields.js';
import { renderPhudgePrompt } from './phudge.js';
import { PROMETHEUS_DEFAULT_CRITERIA, renderPrometheusAbsolute } from './prometheus.js';

/** Written between the instruction and a context document when the context goes inside the instruction. */
export const CONTEXT_HEADER = 'Context document (the response should be grounded in it):';

/**
 * Puts a context document where a template without a context slot can take it: inside the
 * instruction (the PHUDGE and Prometheus training prompts say "an instruction (might include an
 * Input inside it)"), after the question, as `<instruction>\n\n<CONTEXT_HEADER>\n<context>`.
 * Fields without a context are returned as they are, so their prompts do not change by a byte.
 */
export function withContext(fields: PromptFields): PromptFields {
  if (fields.context === undefined) return fields;
  const { context, ...rest } = fields;
  return { ...rest, instruction: `${fields.instruction}\n\n${CONTEXT_HEADER}\n${context}` };
}

/**
 * Renders one absolute-grading prompt in the layout the bundle's manifest names. Neither
 * template has a slot for a context document, so it goes inside the instruction (`withContext`).
 */
export function renderPrompt(template: TemplateName, fields: PromptFields): string {
  const folded = withContext(fields);
  switch (template) {
    case 'phudge':
      return renderPhudgePrompt(folded);
    case 'prometheus':
      return renderPrometheusAbsolute({
        ...folded,
        rubric: folded.rubric ?? resolveRubric(PROMETHEUS_DEFAULT_CRITERIA).text,
      });
  }
}
