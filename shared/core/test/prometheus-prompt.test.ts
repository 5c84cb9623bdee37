import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPrometheusAbsolute, renderPrometheusRelative, renderPrompt, resolveRubric } from '../src/index.js';
import { SHARED_DIR } from '../../../test/support/paths.js';

/** Splits a Prometheus benchmark prompt back into its bodies, by its section headers. */
function sections(prompt: string): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = prompt.split(/\n\n###(?=The instruction to evaluate:|Response to evaluate:|Reference Answer \(Score 5\):|Score Rubrics:|Feedback: $)/);
  for (const part of parts.slice(1)) {
    const colon = part.indexOf(':\n');
    if (colon > 0) out[part.slice(0, colon)] = part.slice(colon + 2);
  }
  return out;
}

describe('Prometheus templates', () => {
  it('re-render the Vicuna benchmark prompts (with reference) exactly', () => {
    const rows: { instruction: string }[] = JSON.parse(readFileSync(join(SHARED_DIR, 'data/vicuna_eval.json'), 'utf8'));
    for (const row of rows.slice(0, 40)) {
      const s = sections(row.instruction);
      const fields = {
        instruction: s['The instruction to evaluate'] as string,
        response: s['Response to evaluate'] as string,
        reference: s['Reference Answer (Score 5)'] as string,
        rubric: s['Score Rubrics'] as string,
      };
      expect(renderPrometheusAbsolute(fields)).toBe(row.instruction);
    }
  });

  it('re-render the HHH benchmark prompts (no reference) exactly', () => {
    const rows: { chosen_instruction: string }[] = JSON.parse(
      readFileSync(join(SHARED_DIR, 'data/hhh_alignment_eval.json'), 'utf8'),
    );
    for (const row of rows.slice(0, 40)) {
      const s = sections(row.chosen_instruction);
      const fields = {
        instruction: s['The instruction to evaluate'] as string,
        response: s['Response to evaluate'] as string,
        rubric: s['Score Rubrics'] as string,
      };
      expect(renderPrometheusAbsolute(fields)).toBe(row.chosen_instruction);
    }
  });

  it('give a rubric-less request the helpfulness rubric, since a Prometheus prompt always has one', () => {
    const prompt = renderPrompt('prometheus', { instruction: 'Q', response: 'A' });
    expect(prompt).toContain(`###Score Rubrics:\n${resolveRubric('helpfulness').text}\n\n###Feedback: `);
  });

  it('lay out a pairwise prompt with both responses and the rubric', () => {
    const prompt = renderPrometheusRelative({ instruction: 'Q', responses: ['first', 'second'], rubric: '[c]' });
    expect(prompt).toContain('###Instruction:\nQ\n\n###Response A:\nfirst\n\n###Response B:\nsecond\n\n###Score Rubric:\n[c]');
    expect(prompt.endsWith('###Feedback: ')).toBe(true);
    expect(prompt).not.toContain('Reference Answer');
  });
});
