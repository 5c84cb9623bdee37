import { describe, expect, it } from 'vitest';
import {
  ConflictingRubricsError,
  fieldMapSchema,
  InvalidMappingError,
  ItemBuilder,
  type ItemOptions,
  parseMapFlag,
} from '../src/index.js';

function entriesOf(value: unknown, options: ItemOptions) {
  return new ItemBuilder(options).entries({ source: 'logs/x.jsonl', line: 4, value });
}

describe('field mapping and presets', () => {
  it('lmsys: grades the last assistant turn of the conversation, with model and language as metadata', () => {
    const [entry] = entriesOf(
      {
        conversation_id: 'c1',
        model: 'vicuna-13b',
        language: 'English',
        conversation: [
          { role: 'user', content: 'Hi?' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Sort a list?' },
          { role: 'assistant', content: 'sorted(xs)' },
        ],
      },
      { preset: 'lmsys' },
    );
    expect(entry).toEqual({
      source: 'logs/x.jsonl',
      line: 4,
      request: {
        id: 'c1',
        mode: 'absolute',
        instruction: 'User: Hi?\n\nAssistant: Hello.\n\nUser: Sort a list?',
        responses: ['sorted(xs)'],
        metadata: { model: 'vicuna-13b', language: 'English' },
      },
    });
  });

  it('langfuse: input, output and the trace metadata', () => {
    const [entry] = entriesOf(
      { id: 't1', input: 'Q?', output: 'A.', metadata: { env: 'prod' }, latency: 3 },
      { preset: 'langfuse' },
    );
    expect(entry).toMatchObject({
      request: { id: 't1', instruction: 'Q?', responses: ['A.'], metadata: { env: 'prod' } },
    });
  });

  it('hf-preference: chosen and rejected graded as a pair, chosen as A', () => {
    const [entry] = entriesOf({ prompt: 'Q?', chosen: 'good', rejected: 'bad' }, { preset: 'hf-preference' });
    expect(entry).toMatchObject({ request: { mode: 'relative', responses: ['good', 'bad'] } });
  });

  it('a map overrides the preset and takes only the mapped fields from the record', () => {
    const [entry] = entriesOf(
      { trace: { q: 'Q?', a: 'A.' }, instruction: 'not this', doc: 'Policy text', team: 'x' },
      { map: { instruction: 'trace.q', response: 'trace.a', context: 'doc', 'metadata.team': 'team' } },
    );
    expect(entry).toMatchObject({
      request: {
        id: 'line-4',
        instruction: 'Q?',
        responses: ['A.'],
        context: 'Policy text',
        metadata: { team: 'x' },
      },
    });
  });

  it('an item whose mapped field finds nothing is an error record naming the expression, its source and line', () => {
    const [entry] = entriesOf({ conversation_id: 'c2' }, { preset: 'lmsys' });
    expect(entry).toEqual({
      id: 'c2',
      source: 'logs/x.jsonl',
      line: 4,
      error: {
        code: 'invalid_input',
        message: 'missing field: messages (map: "conversation" found nothing)',
      },
    });
  });

  it('refuses an expression that does not parse, naming the field and the expression', () => {
    expect(() => new ItemBuilder({ map: { response: 'output[' } })).toThrow(InvalidMappingError);
    expect(() => new ItemBuilder({ map: { response: 'output[' } })).toThrow(
      /map\.response: "output\[" is not a JMESPath expression/,
    );
    expect(fieldMapSchema.safeParse({ answer: 'x' }).success).toBe(false);
    expect(parseMapFlag('metadata.q=a == `1`')).toEqual(['metadata.q', 'a == `1`']);
  });

  it('rubrics: one entry per rubric; rubric and rubrics together are refused', () => {
    const entries = entriesOf(
      { instruction: 'Q?', response: 'A.', rubric: 'honesty' },
      { rubrics: ['helpfulness', 'reasoning'] },
    );
    expect(entries.map((entry) => 'request' in entry && entry.request.rubric)).toEqual([
      'helpfulness',
      'reasoning',
    ]);
    expect(() => new ItemBuilder({ rubric: 'honesty', rubrics: ['helpfulness'] })).toThrow(
      ConflictingRubricsError,
    );
  });
});
