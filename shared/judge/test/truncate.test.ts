import { join } from 'node:path';
import {
  InvalidInputError,
  type PromptFields,
  renderPhudgePrompt,
  renderPrompt,
  resolveRubric,
} from '@phudge/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../../../test/support/paths.js';
import { fitPrompt, JudgeTokenizer, loadBundle, TRUNCATION_MARKER } from '../src/index.js';

const MAX = 512;

describe('tail-safe truncation with the real tokenizer', () => {
  let tokenizer: JudgeTokenizer;
  let fit: (fields: PromptFields) => Promise<{ ids: number[]; truncated: boolean; full: number[] }>;
  beforeAll(async () => {
    tokenizer = await JudgeTokenizer.load(await loadBundle(join(MODELS_DIR, 'tiny-judge')));
    fit = async (fields) => {
      const [full] = (await tokenizer.encode([renderPhudgePrompt(fields)])) as [number[]];
      return { ...(await fitPrompt(fields, full, renderPhudgePrompt, tokenizer, MAX)), full };
    };
  });

  it('leaves a prompt that fits untouched', async () => {
    const { ids, truncated, full } = await fit({ instruction: 'Q?', response: 'A short answer.' });
    expect(truncated).toBe(false);
    expect(ids).toEqual(full);
  });

  it('fits a long response under max_length and keeps the template tail token for token', async () => {
    const rubric = resolveRubric('reasoning').text;
    const fields = {
      instruction: 'Explain.',
      response: `START ${'the quick brown fox jumps. '.repeat(400)} FINISH`,
      rubric,
    };
    const { ids, truncated, full } = await fit(fields);
    expect(truncated).toBe(true);
    expect(full.length).toBeGreaterThan(MAX);
    expect(ids.length).toBeLessThanOrEqual(MAX);
    // Everything after the response (the rubric and the assistant marker) survives intact.
    const [tail] = (await tokenizer.encode([
      `\n\n###Score Rubrics:\n${rubric}<|end|>\n\n<|assistant|>\n`,
    ])) as [number[]];
    const tailTokens = tail.slice(2); // drop BOS and the token the joint may merge
    expect(ids.slice(-tailTokens.length)).toEqual(full.slice(-tailTokens.length));
  });

  it('cuts the response from the middle, keeping its start and end around the marker', async () => {
    const fields = { instruction: 'Explain.', response: `START ${'lorem ipsum dolor. '.repeat(500)} FINISH` };
    const { ids } = await fit(fields);
    const text = await tokenizer.decode(ids);
    expect(text).toContain('START');
    expect(text).toContain('FINISH');
    expect(text).toContain(TRUNCATION_MARKER.trim());
  });

  it('shortens the longest body first and leaves short ones whole', async () => {
    const instruction = 'What is the capital of France? Please answer briefly.';
    const fields = { instruction, response: 'Paris. '.repeat(600), reference: 'Paris is the capital.' };
    const { ids, truncated } = await fit(fields);
    expect(truncated).toBe(true);
    expect(ids.length).toBeLessThanOrEqual(MAX);
    const [instructionIds] = (await tokenizer.encode([`:\n${instruction}\n`])) as [number[]];
    const inner = instructionIds.slice(3, -2);
    expect(containsRun(ids, inner)).toBe(true);
  });

  it('shortens a context document before any other body, even a longer one', async () => {
    const render = (fields: PromptFields) => renderPrompt('phudge', fields);
    const response = `The answer, in full: ${'a sentence of the answer. '.repeat(40)}END`;
    const fields = {
      instruction: 'Is this allowed?',
      response,
      context: `POLICY ${'clause text here. '.repeat(50)} LAST`,
    };
    const [full] = (await tokenizer.encode([render(fields)])) as [number[]];
    const { ids, truncated } = await fitPrompt(fields, full, render, tokenizer, MAX);
    expect(truncated).toBe(true);
    expect(ids.length).toBeLessThanOrEqual(MAX);
    const text = await tokenizer.decode(ids);
    expect(text).toContain(response);
    expect(text).toContain('POLICY');
    expect(text).toContain(TRUNCATION_MARKER.trim());
  });

  it('refuses, with prompt_too_long, a prompt whose fixed parts alone exceed max_length', async () => {
    const hugeRubric = `[${'criterion '.repeat(600)}]\nScore 1: a\nScore 2: b\nScore 3: c\nScore 4: d\nScore 5: e`;
    const error = await fit({ instruction: 'Q', response: 'A', rubric: hugeRubric }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('prompt_too_long');
  });
});

function containsRun(haystack: number[], needle: number[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
