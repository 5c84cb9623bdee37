import { resolveRubric } from '../rubrics/render.js';
import type { TemplateName } from '../schemas/manifest.js';
import type { PromptFields } from './fields.js';
import { renderPhudgePrompt } from './phudge.js';
import { PROMETHEUS_DEFAULT_CRITERIA, renderPrometheusAbsolute } from './prometheus.js';

/** Renders one absolute-grading prompt in the layout the bundle's manifest names. */
export function renderPrompt(template: TemplateName, fields: PromptFields): string {
  switch (template) {
    case 'phudge':
      return renderPhudgePrompt(fields);
    case 'prometheus':
      return renderPrometheusAbsolute({
        ...fields,
        rubric: fields.rubric ?? resolveRubric(PROMETHEUS_DEFAULT_CRITERIA).text,
      });
  }
}
