import { describe, expect, it } from 'vitest';
import { InvalidInputError, parseGradingRequest } from '../src/index.js';

function invalid(value: unknown, defaults = {}): InvalidInputError {
  try {
    parseGradingRequest(value, 7, defaults);
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('expected an InvalidInputError');
}

describe('grading request parsing', () => {
  it('takes the canonical fields as they are', () => {
    const request = parseGradingRequest(
      {
        id: 'log-1',
        instruction: 'Q',
        response: 'A',
        reference: 'R',
        rubric: 'helpfulness',
        metadata: { team: 'x' },
      },
      1,
    );
    expect(request).toEqual({
      id: 'log-1',
      mode: 'absolute',
      instruction: 'Q',
      responses: ['A'],
      reference: 'R',
      rubric: 'helpfulness',
      metadata: { team: 'x' },
    });
  });

  it.each([
    [{ question: 'Q', answer: 'A', reference_answer: 'R' }],
    [{ prompt: 'Q', output: 'A', reference_answer: 'R' }],
  ])('resolves the aliases of %j', (line) => {
    const request = parseGradingRequest(line, 3);
    expect(request).toMatchObject({ id: 'line-3', instruction: 'Q', responses: ['A'], reference: 'R' });
  });

  it('reads a pair from responses or from response_a/response_b as relative mode', () => {
    expect(parseGradingRequest({ instruction: 'Q', responses: ['a', 'b'] }, 1)).toMatchObject({
      mode: 'relative',
      responses: ['a', 'b'],
    });
    expect(parseGradingRequest({ instruction: 'Q', response_a: 'a', response_b: 'b' }, 1)).toMatchObject({
      mode: 'relative',
      responses: ['a', 'b'],
    });
  });

  it('grades the last assistant turn of a chat log, with a single user turn as the instruction', () => {
    const request = parseGradingRequest(
      {
        messages: [
          { role: 'user', content: 'Hi?' },
          { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }] },
        ],
      },
      1,
    );
    expect(request).toMatchObject({ instruction: 'Hi?', responses: ['Hello.'] });
  });

  it('writes a longer conversation out turn by turn as the instruction', () => {
    const request = parseGradingRequest(
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Capital of France?' },
          { role: 'assistant', content: 'Paris.' },
          { role: 'user', content: 'And Italy?' },
          { role: 'assistant', content: 'Rome.' },
          { role: 'user', content: 'thanks' },
        ],
      },
      1,
    );
    expect(request.responses).toEqual(['Rome.']);
    expect(request.instruction).toBe(
      'System: Be brief.\n\nUser: Capital of France?\n\nAssistant: Paris.\n\nUser: And Italy?',
    );
  });

  it('applies the run rubric only where a line names none', () => {
    const defaults = { rubric: 'honesty' };
    expect(parseGradingRequest({ instruction: 'Q', response: 'A' }, 1, defaults).rubric).toBe('honesty');
    expect(
      parseGradingRequest({ instruction: 'Q', response: 'A', rubric: 'reasoning' }, 1, defaults).rubric,
    ).toBe('reasoning');
  });

  it('accepts a rubric object and rejects one with a missing score line', () => {
    const rubric = {
      criteria: 'c',
      score1_description: '1',
      score2_description: '2',
      score3_description: '3',
      score4_description: '4',
      score5_description: '5',
    };
    expect(parseGradingRequest({ instruction: 'Q', response: 'A', rubric }, 1).rubric).toEqual(rubric);
    const { score5_description: _, ...partial } = rubric;
    expect(invalid({ instruction: 'Q', response: 'A', rubric: partial }).code).toBe('invalid_input');
  });

  it.each([
    [{ instruction: 'Q' }, 'missing field: response'],
    [{ response: 'A' }, 'missing field: instruction'],
    [{ instruction: 'Q', question: 'other', response: 'A' }, 'conflicting fields: instruction, question'],
    [{ instruction: 'Q', response: 'A', responses: ['a', 'b'] }, 'give the response(s) once'],
    [{ instruction: 'Q', response_a: 'a' }, 'missing field: response_b'],
    [{ messages: [{ role: 'user', content: 'Q' }] }, 'no assistant turn'],
    [{ instruction: 42, response: 'A' }, 'instruction'],
    [[1, 2], 'expected object'],
    [{ instruction: 'Q', response: 'A', metadata: ['x'] }, 'metadata: expected an object'],
    [{ instruction: 'Q', response: 'A', metadata: 'x' }, 'metadata: expected an object'],
    [
      {
        messages: [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: 7 },
        ],
      },
      'messages.1.content',
    ],
  ])('rejects %j naming the problem', (line, message) => {
    const error = invalid(line);
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain(message);
  });

  it('ignores fields it does not know, at the top and in chat messages', () => {
    const request = parseGradingRequest(
      {
        instruction: 'Q',
        response: 'A',
        extra: { deep: [1] },
        metadata: { team: 'x', nested: { a: [1, 2] } },
      },
      1,
    );
    expect(request).toEqual({
      id: 'line-1',
      mode: 'absolute',
      instruction: 'Q',
      responses: ['A'],
      metadata: { team: 'x', nested: { a: [1, 2] } },
    });
    const chat = parseGradingRequest(
      {
        messages: [
          { role: 'user', content: 'Q', name: 'u' },
          { role: 'assistant', content: 'A', tool_calls: [] },
        ],
      },
      1,
    );
    expect(chat).toMatchObject({ instruction: 'Q', responses: ['A'] });
  });

  it('enforces a forced mode against the shape of the line', () => {
    expect(invalid({ instruction: 'Q', response: 'A' }, { mode: 'relative' }).message).toContain(
      'two responses',
    );
    expect(invalid({ instruction: 'Q', responses: ['a', 'b'] }, { mode: 'absolute' }).message).toContain(
      'exactly one response',
    );
  });
});
