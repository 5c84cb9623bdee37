import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS_DIR } from '../../../test/support/paths.js';
import {
  type PromptFields,
  parsePrometheusAbsolute,
  renderPrometheusAbsolute,
  renderPrometheusRelative,
  renderPrompt,
  resolveRubric,
} from '../src/index.js';

describe('Prometheus templates', () => {
  it('parse only Prometheus prompts', () => {
    expect(parsePrometheusAbsolute('just some text')).toBeUndefined();
  });

  it('re-render the Vicuna benchmark prompts (with reference) exactly', () => {
    const rows: { instruction: string }[] = JSON.parse(
      readFileSync(join(BENCHMARKS_DIR, 'vicuna_eval.json'), 'utf8'),
    );
    for (const row of rows.slice(0, 40)) {
      const fields = parsePrometheusAbsolute(row.instruction) as PromptFields & { rubric: string };
      expect(fields?.reference).toBeDefined();
      expect(renderPrometheusAbsolute(fields)).toBe(row.instruction);
    }
  });

  it('re-render the HHH benchmark prompts (no reference) exactly', () => {
    const rows: { chosen_instruction: string }[] = JSON.parse(
      readFileSync(join(BENCHMARKS_DIR, 'hhh_alignment_eval.json'), 'utf8'),
    );
    for (const row of rows.slice(0, 40)) {
      const fields = parsePrometheusAbsolute(row.chosen_instruction) as PromptFields & { rubric: string };
      expect(fields?.reference).toBeUndefined();
      expect(renderPrometheusAbsolute(fields)).toBe(row.chosen_instruction);
    }
  });

  it('give a rubric-less request the helpfulness rubric, since a Prometheus prompt always has one', () => {
    const prompt = renderPrompt('prometheus', { instruction: 'Q', response: 'A' });
    expect(prompt).toContain(`###Score Rubrics:\n${resolveRubric('helpfulness').text}\n\n###Feedback: `);
  });

  it('lay out a pairwise prompt with both responses and the rubric', () => {
    const prompt = renderPrometheusRelative({
      instruction: 'Q',
      responses: ['first', 'second'],
      rubric: '[c]',
    });
    expect(prompt).toContain(
      '###Instruction:\nQ\n\n###Response A:\nfirst\n\n###Response B:\nsecond\n\n###Score Rubric:\n[c]',
    );
    expect(prompt.endsWith('###Feedback: ')).toBe(true);
    expect(prompt).not.toContain('Reference Answer');
  });
});
