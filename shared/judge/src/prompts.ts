import {
  type GradingRequest,
  type JudgeManifest,
  type PromptFields,
  renderPrompt,
  resolveRubric,
} from '@phudge/core';
import type { Sanitizer } from './sanitize.js';

/** The prompts of one request (one per response), before tokenizing. */
export interface RequestPrompts {
  /** One per response, in order. */
  fields: PromptFields[];
  /** Special-token strings were neutralized in a user field. */
  sanitized: boolean;
  /** The rubric's library name or `custom`; absent without a rubric. */
  rubricLabel?: string;
}

/**
 * Turns a request into the prompt fields the bundle's template renders: rubric resolved, every
 * user-supplied text sanitized. A relative request gets one absolute prompt per response, so that
 * position bias cannot arise.
 */
export function buildPromptFields(request: GradingRequest, sanitize: Sanitizer): RequestPrompts {
  let sanitized = false;
  const clean = (text: string) => {
    const result = sanitize(text);
    sanitized ||= result.changed;
    return result.text;
  };
  const rubric = request.rubric === undefined ? undefined : resolveRubric(request.rubric);
  const shared = {
    instruction: clean(request.instruction),
    ...(request.reference !== undefined ? { reference: clean(request.reference) } : {}),
    ...(request.context !== undefined ? { context: clean(request.context) } : {}),
    ...(rubric ? { rubric: clean(rubric.text) } : {}),
  };
  const fields = request.responses.map((response) => ({ ...shared, response: clean(response) }));
  return { fields, sanitized, ...(rubric ? { rubricLabel: rubric.label } : {}) };
}

/** The bundle's template, plus the score prefix a causal judge needs to read the score next. */
export function promptRenderer(manifest: JudgeManifest): (fields: PromptFields) => string {
  const suffix = manifest.head === 'causal' ? (manifest.score_prefix ?? '') : '';
  return (fields) => renderPrompt(manifest.template, fields) + suffix;
}
