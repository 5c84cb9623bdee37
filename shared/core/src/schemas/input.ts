import { type RubricSpec, rubricSpecSchema } from '@phudge/contracts';
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';

/** How a request is graded: one response on the 1-5 scale, or two responses compared. */
export type GradingMode = 'absolute' | 'relative';

const text = z.string();

/**
 * Metadata: any JSON object, echoed as it is. Checked as a whole, not copied key by key as
 * `z.record(z.string(), z.unknown())` does for the same set of values: it is on every item's path.
 */
const metadataSchema = z.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  { message: 'expected an object' },
);

/**
 * A grading request after validation and alias resolution: the one shape the engine sees,
 * whatever shape the input line had. It crosses the queue inside chunk entries, so both sides
 * parse it with this schema.
 */
export const gradingRequestSchema = z.object({
  id: z.string(),
  mode: z.enum(['absolute', 'relative']),
  instruction: text,
  /** One response (absolute) or two (relative: A then B). */
  responses: z.array(text).min(1).max(2),
  reference: text.optional(),
  /** A document the response should be grounded in (retrieved passages, a policy, ...). */
  context: text.optional(),
  rubric: rubricSpecSchema.optional(),
  metadata: metadataSchema.optional(),
});
export type GradingRequest = z.infer<typeof gradingRequestSchema>;
// Objects drop the fields they do not name (which are ignored anyway) instead of copying them
// through: cheaper on every line, and what is read is the same.
const contentPart = z.object({ type: z.string(), text: z.string().optional() });
const chatMessageSchema = z.object({
  role: z.string().min(1),
  content: z.union([text, z.array(contentPart), z.null()]),
});
type ChatMessage = z.infer<typeof chatMessageSchema>;

/** Every field and alias an input line may use (DESIGN.md, "Contracts"). Unknown fields are ignored. */
export const rawRequestSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).optional(),
  instruction: text.optional(),
  question: text.optional(),
  prompt: text.optional(),
  response: text.optional(),
  answer: text.optional(),
  output: text.optional(),
  responses: z.array(text).min(1).max(2).optional(),
  response_a: text.optional(),
  response_b: text.optional(),
  reference: text.optional(),
  reference_answer: text.optional(),
  context: text.optional(),
  rubric: rubricSpecSchema.optional(),
  messages: z.array(chatMessageSchema).min(1).optional(),
  metadata: metadataSchema.optional(),
});
type RawRequest = z.infer<typeof rawRequestSchema>;

const INSTRUCTION_FIELDS = ['instruction', 'question', 'prompt'] as const;
const RESPONSE_FIELDS = ['response', 'answer', 'output'] as const;
const REFERENCE_FIELDS = ['reference', 'reference_answer'] as const;

/** Options that apply to every request of a run. */
export interface RequestDefaults {
  /** Rubric for requests that name none. */
  rubric?: RubricSpec;
  /** Force a mode; a request of the other shape is then invalid. Inferred from the shape when absent. */
  mode?: GradingMode;
}

/**
 * Validates one decoded input line and resolves its aliases.
 * @param line 1-based line number, used for the default id `line-N`.
 * @throws InvalidInputError with a message naming the field at fault.
 */
export function parseGradingRequest(
  value: unknown,
  line: number,
  defaults: RequestDefaults = {},
): GradingRequest {
  const parsed = rawRequestSchema.safeParse(value);
  if (!parsed.success) throw new InvalidInputError('invalid_input', describeZodError(parsed.error));
  const raw = parsed.data;

  const conversation = raw.messages ? splitConversation(raw.messages) : undefined;
  const instruction = pickOne(raw, INSTRUCTION_FIELDS) ?? conversation?.instruction;
  if (instruction === undefined) throw missing('instruction (or question, prompt, messages)');

  const responses = pickResponses(raw) ?? (conversation ? [conversation.response] : undefined);
  if (!responses) throw missing('response (or answer, output, responses, response_a/response_b, messages)');

  const mode: GradingMode = responses.length === 2 ? 'relative' : 'absolute';
  if (defaults.mode && defaults.mode !== mode) {
    throw new InvalidInputError(
      'invalid_input',
      defaults.mode === 'relative'
        ? 'relative mode needs two responses (responses: [a, b] or response_a/response_b)'
        : 'absolute mode needs exactly one response',
    );
  }

  const request: GradingRequest = {
    id: raw.id === undefined ? `line-${line}` : String(raw.id),
    mode,
    instruction,
    responses,
  };
  const reference = pickOne(raw, REFERENCE_FIELDS);
  if (reference !== undefined && reference.trim() !== '') request.reference = reference;
  if (raw.context !== undefined && raw.context.trim() !== '') request.context = raw.context;
  const rubric = raw.rubric ?? defaults.rubric;
  if (rubric !== undefined) request.rubric = rubric;
  if (raw.metadata) request.metadata = raw.metadata;
  return request;
}

function missing(field: string): InvalidInputError {
  return new InvalidInputError('invalid_input', `missing field: ${field}`);
}

/** The first alias present; two aliases with different values are a conflict, not a guess. */
function pickOne(raw: RawRequest, fields: readonly (keyof RawRequest)[]): string | undefined {
  let first: keyof RawRequest | undefined;
  let value: string | undefined;
  for (const field of fields) {
    const candidate = raw[field];
    if (typeof candidate !== 'string') continue;
    if (first === undefined) {
      first = field;
      value = candidate;
    } else if (candidate !== value) {
      throw new InvalidInputError('invalid_input', `conflicting fields: ${first}, ${field}`);
    }
  }
  return value;
}

function pickResponses(raw: RawRequest): string[] | undefined {
  const single = pickOne(raw, RESPONSE_FIELDS);
  const pair = raw.response_a !== undefined || raw.response_b !== undefined;
  const given = Number(single !== undefined) + Number(raw.responses !== undefined) + Number(pair);
  if (given > 1) {
    throw new InvalidInputError(
      'invalid_input',
      'give the response(s) once: response, responses or response_a/response_b',
    );
  }
  if (single !== undefined) return [single];
  if (raw.responses) return raw.responses;
  if (pair) {
    if (raw.response_a === undefined) throw missing('response_a');
    if (raw.response_b === undefined) throw missing('response_b');
    return [raw.response_a, raw.response_b];
  }
  return undefined;
}

/**
 * OpenAI-style chat log: the last assistant turn is graded, the conversation before it is the instruction.
 * A single user turn becomes the instruction as is; a longer conversation is written out turn by turn.
 */
function splitConversation(messages: ChatMessage[]): { instruction: string; response: string } {
  let last = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'assistant') {
      last = i;
      break;
    }
  }
  if (last < 0) throw new InvalidInputError('invalid_input', 'messages: no assistant turn to grade');
  const before = messages.slice(0, last);
  if (before.length === 0)
    throw new InvalidInputError('invalid_input', 'messages: no turn before the graded assistant turn');
  const response = messageText(messages[last] as ChatMessage);
  const only = before[0] as ChatMessage;
  if (before.length === 1 && only.role === 'user') return { instruction: messageText(only), response };
  const instruction = before.map((m) => `${capitalize(m.role)}: ${messageText(m)}`).join('\n\n');
  return { instruction, response };
}

function messageText(message: ChatMessage): string {
  const { content } = message;
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('\n');
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** One short message for the first problem zod found, naming the field. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  const path = issue.path.join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Parses one JSONL line. @throws InvalidInputError `invalid_json` */
export function parseJsonLine(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError('invalid_json', `not valid JSON: ${(error as Error).message}`);
  }
}

/** The id a line gave itself, so that its error record can name it even when the line is invalid. */
export function declaredId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('id' in value)) return undefined;
  const { id } = value as { id: unknown };
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
