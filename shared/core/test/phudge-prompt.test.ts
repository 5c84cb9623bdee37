import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GOLDEN_PROMPTS } from '../../../test/support/paths.js';
import { CONTEXT_HEADER, phudgeVariant, renderPhudgePrompt, renderPrompt } from '../src/index.js';

interface GoldenRow {
  id: string;
  instruction: string;
  response: string;
  reference?: string;
  rubric?: string;
  variant: string;
  prompt: string;
}

const golden: GoldenRow[] = readFileSync(GOLDEN_PROMPTS, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line));

describe('PHUDGE prompt renderer', () => {
  it('has the whole golden file to check against (160 prompts, 40 per variant)', () => {
    expect(golden).toHaveLength(160);
    const perVariant = new Map<string, number>();
    for (const row of golden) perVariant.set(row.variant, (perVariant.get(row.variant) ?? 0) + 1);
    expect(Object.fromEntries(perVariant)).toEqual({
      sys_only: 40,
      rubric_only: 40,
      ref_only: 40,
      ref_rub: 40,
    });
  });

  it.each(golden.map((row) => [`${row.id} ${row.variant}`, row] as const))(
    'reproduces %s byte for byte',
    (_, row) => {
      const fields = {
        instruction: row.instruction,
        response: row.response,
        reference: row.reference,
        rubric: row.rubric,
      };
      expect(phudgeVariant(fields)).toBe(row.variant);
      const rendered = renderPhudgePrompt(fields);
      expect(Buffer.from(rendered, 'utf8').equals(Buffer.from(row.prompt, 'utf8'))).toBe(true);
      // The judge's path (context folding included) gives the same bytes for a request without context.
      expect(renderPrompt('phudge', fields)).toBe(row.prompt);
    },
  );

  it('is what renderPrompt gives for a phudge bundle', () => {
    const row = golden[0] as GoldenRow;
    expect(renderPrompt('phudge', row)).toBe(row.prompt);
  });

  it('puts a context document inside the instruction, after the question, under its header', () => {
    const prompt = renderPrompt('phudge', {
      instruction: 'Is a refund due?',
      response: 'Yes.',
      context: 'Policy: 30 days.',
    });
    expect(prompt).toBe(
      renderPhudgePrompt({
        instruction: `Is a refund due?\n\n${CONTEXT_HEADER}\nPolicy: 30 days.`,
        response: 'Yes.',
      }),
    );
    expect(prompt).toContain('###The instruction to evaluate:\nIs a refund due?\n\nContext document');
  });
});
