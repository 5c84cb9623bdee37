import type { RubricObject, RubricSpec } from '@phudge/contracts';
import { isRubricName, RUBRIC_LIBRARY } from './library.js';

/** A free-text criterion gets these score lines, so every rubric has the trained five-line shape. */
const GENERIC_SCORES = {
  score1_description: 'The response does not meet the criterion at all.',
  score2_description: 'The response meets the criterion only in small part.',
  score3_description: 'The response meets the criterion partly, with clear shortcomings.',
  score4_description: 'The response meets the criterion well, with minor shortcomings.',
  score5_description: 'The response fully meets the criterion.',
};

export interface ResolvedRubric {
  /** Rendered text: `[criteria]` then `Score 1:` .. `Score 5:` lines. */
  text: string;
  /** The library name, or `custom`. */
  label: string;
}

/** `[criteria]\nScore 1: ...\n...\nScore 5: ...`, the layout PHUDGE and Prometheus were trained on. */
export function renderRubricObject(rubric: RubricObject): string {
  return [
    `[${rubric.criteria}]`,
    `Score 1: ${rubric.score1_description}`,
    `Score 2: ${rubric.score2_description}`,
    `Score 3: ${rubric.score3_description}`,
    `Score 4: ${rubric.score4_description}`,
    `Score 5: ${rubric.score5_description}`,
  ].join('\n');
}

/**
 * A library name, free text or an object, rendered. Free text that is already a rendered rubric
 * (starts with `[` and has `Score 1:` .. `Score 5:` lines) is kept as it is.
 */
export function resolveRubric(spec: RubricSpec): ResolvedRubric {
  if (typeof spec !== 'string') return { text: renderRubricObject(spec), label: 'custom' };
  const name = spec.trim();
  if (isRubricName(name)) return { text: renderRubricObject(RUBRIC_LIBRARY[name]), label: name };
  if (isRenderedRubric(name)) return { text: name, label: 'custom' };
  return { text: renderRubricObject({ criteria: name, ...GENERIC_SCORES }), label: 'custom' };
}

function isRenderedRubric(text: string): boolean {
  return text.startsWith('[') && [1, 2, 3, 4, 5].every((score) => text.includes(`\nScore ${score}:`));
}
