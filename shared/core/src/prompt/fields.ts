/** The text bodies a judge prompt is made of; the rubric is already rendered (see `renderRubric`). */
export interface PromptFields {
  instruction: string;
  response: string;
  reference?: string;
  rubric?: string;
}

/** The bodies that truncation may shorten, in the order they are shortened when equally long. */
export const TRUNCATABLE_FIELDS = ['response', 'reference', 'instruction'] as const;
export type TruncatableField = (typeof TRUNCATABLE_FIELDS)[number];
