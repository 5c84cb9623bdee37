import {
  InvalidInputError,
  type PromptFields,
  TRUNCATABLE_FIELDS,
  type TruncatableField,
} from '@phudge/core';
import type { JudgeTokenizer, TokenSpans } from './tokenizer.js';

/** Put where a body was cut, so that neither the judge nor a reader mistakes it for the whole text. */
export const TRUNCATION_MARKER = ' [...] ';

/** A body is never cut below this many tokens: a few words of each end still say what it was. */
const MIN_KEEP_TOKENS = 8;

/** Re-tokenizing a cut body can merge or split tokens at the cut; each round absorbs what the last missed. */
const MAX_ROUNDS = 4;

/**
 * Water-filling: the new token count of each body so that together they shrink by at least
 * `reduce`, cutting the longest bodies first and never below `minKeep`. Undefined when impossible.
 */
export function planCuts(
  counts: readonly number[],
  reduce: number,
  minKeep = MIN_KEEP_TOKENS,
): number[] | undefined {
  if (reduce <= 0) return [...counts];
  const removable = (cap: number) =>
    counts.reduce((sum, count) => sum + Math.max(0, count - Math.max(cap, minKeep)), 0);
  if (removable(minKeep) < reduce) return undefined;
  // The largest cap that still removes enough: binary search over [minKeep, longest].
  let low = minKeep;
  let high = Math.max(...counts);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (removable(mid) >= reduce) low = mid;
    else high = mid - 1;
  }
  return counts.map((count) => Math.min(count, low));
}

/**
 * Like {@link planCuts}, but the first body (the context document) gives all it can before any
 * other body is cut.
 */
export function planCutsContextFirst(
  counts: readonly number[],
  reduce: number,
  minKeep = MIN_KEEP_TOKENS,
): number[] | undefined {
  const [context, ...others] = counts as [number, ...number[]];
  const removable = Math.max(0, context - minKeep);
  if (removable >= reduce) return [context - Math.max(0, reduce), ...others];
  const rest = planCuts(others, reduce - removable, minKeep);
  return rest && [context - removable, ...rest];
}

/** Keeps the first and last tokens of a text (half of `keep` each) around the marker. */
export function cutMiddle(text: string, spans: TokenSpans, keep: number): string {
  if (keep >= spans.count) return text;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  const headEnd = head > 0 ? (spans.offsets[2 * (head - 1) + 1] as number) : 0;
  const tailStart = tail > 0 ? (spans.offsets[2 * (spans.count - tail)] as number) : text.length;
  return `${text.slice(0, headEnd).trimEnd()}${TRUNCATION_MARKER}${text.slice(tailStart).trimStart()}`;
}

/**
 * Fits a prompt into `maxLength` tokens without touching its tail: the model reads the score at
 * the last token, so the template's end must survive. Only the bodies are shortened, from the
 * middle: a context document first, then response, reference and instruction, longest first.
 * @param ids the tokens of the prompt as rendered from `fields`.
 * @throws InvalidInputError `prompt_too_long` when even minimal bodies do not fit (a huge rubric).
 */
export async function fitPrompt(
  fields: PromptFields,
  ids: number[],
  render: (fields: PromptFields) => string,
  tokenizer: JudgeTokenizer,
  maxLength: number,
): Promise<{ ids: number[]; truncated: boolean }> {
  if (ids.length <= maxLength) return { ids, truncated: false };
  const names = TRUNCATABLE_FIELDS.filter((name) => fields[name] !== undefined);
  const texts = names.map((name) => fields[name] as string);
  const spans = await tokenizer.spans([...texts, TRUNCATION_MARKER]);
  const markerTokens = (spans.pop() as TokenSpans).count;
  const counts = spans.map((s) => s.count);

  let current = ids;
  let reduce = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    reduce += current.length - maxLength;
    const needed = reduce + markerTokens * names.length;
    const keep = names[0] === 'context' ? planCutsContextFirst(counts, needed) : planCuts(counts, needed);
    if (!keep) break;
    const cut: PromptFields = { ...fields };
    names.forEach((name: TruncatableField, i) => {
      cut[name] = cutMiddle(texts[i] as string, spans[i] as TokenSpans, keep[i] as number);
    });
    [current] = (await tokenizer.encode([render(cut)])) as [number[]];
    if (current.length <= maxLength) return { ids: current, truncated: true };
  }
  throw new InvalidInputError(
    'prompt_too_long',
    `prompt needs ${ids.length} tokens; the judge takes ${maxLength} and the rubric and template alone do not leave room for the bodies`,
  );
}
