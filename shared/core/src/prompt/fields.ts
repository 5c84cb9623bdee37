/** The text bodies a judge prompt is made of; the rubric is already rendered (see `renderRubric`). */
export interface PromptFields {
  instruction: string;
  response: string;
  reference?: string;
  rubric?: string;
  /** A document the response should be grounded in; see `withContext` for where it goes. */
  context?: string;
}

/**
 * The bodies that truncation may shorten. The context is shortened first (it is the longest and
 * least essential body); the others are then shortened longest first, in this order when equally long.
 */
export const TRUNCATABLE_FIELDS = ['context', 'response', 'reference', 'instruction'] as const;
export type TruncatableField = (typeof TRUNCATABLE_FIELDS)[number];
