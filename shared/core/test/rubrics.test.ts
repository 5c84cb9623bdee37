import { describe, expect, it } from 'vitest';
import { RUBRIC_LIBRARY, resolveRubric } from '../src/index.js';

describe('rubrics', () => {
  it('has the library rubrics the product promises', () => {
    expect(Object.keys(RUBRIC_LIBRARY)).toEqual(
      expect.arrayContaining([
        'helpfulness',
        'harmlessness',
        'honesty',
        'factual_accuracy',
        'reasoning',
        'instruction_following',
      ]),
    );
  });

  it('renders a library rubric as [criteria] and five score lines', () => {
    const { text, label } = resolveRubric('honesty');
    expect(label).toBe('honesty');
    const lines = text.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe(`[${RUBRIC_LIBRARY.honesty.criteria}]`);
    expect(lines.slice(1).map((line) => line.slice(0, 8))).toEqual([1, 2, 3, 4, 5].map((n) => `Score ${n}:`));
  });

  it('wraps a free-text criterion in the same shape', () => {
    const { text, label } = resolveRubric('Is the answer polite?');
    expect(label).toBe('custom');
    expect(text.startsWith('[Is the answer polite?]\nScore 1: ')).toBe(true);
    expect(text.split('\n')).toHaveLength(6);
  });

  it('keeps an already rendered rubric byte for byte', () => {
    const rendered = '[Clear?]\nScore 1: a\nScore 2: b\nScore 3: c\nScore 4: d\nScore 5: e';
    expect(resolveRubric(rendered)).toEqual({ text: rendered, label: 'custom' });
  });

  it('renders a rubric object', () => {
    const rubric = {
      criteria: 'Concise?',
      score1_description: 'one',
      score2_description: 'two',
      score3_description: 'three',
      score4_description: 'four',
      score5_description: 'five',
    };
    expect(resolveRubric(rubric).text).toBe(
      '[Concise?]\nScore 1: one\nScore 2: two\nScore 3: three\nScore 4: four\nScore 5: five',
    );
  });
});
