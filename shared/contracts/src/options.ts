import { z } from 'zod';
import { rubricSpecSchema } from './rubric.js';

/**
 * The options that say how a run's raw records become items and where its results go: zod only,
 * so that the API's schemas (and their clients) can take them as they are.
 */

/** The request fields a mapping may fill; `metadata.<name>` keys fill one metadata field each. */
export const MAPPABLE_FIELDS = [
  'id',
  'instruction',
  'response',
  'responses',
  'reference',
  'rubric',
  'messages',
  'context',
  'metadata',
] as const;

const METADATA_KEY = /^metadata\.[A-Za-z0-9_-]{1,64}$/;

function isMappableKey(key: string): boolean {
  return (MAPPABLE_FIELDS as readonly string[]).includes(key) || METADATA_KEY.test(key);
}

/**
 * A field mapping: request field -> JMESPath expression over one input record
 * (`{"response": "output.text", "metadata.language": "language"}`).
 */
export const fieldMapSchema = z
  .record(z.string(), z.string().min(1))
  .refine((map) => Object.keys(map).every(isMappableKey), {
    message: `keys must be ${MAPPABLE_FIELDS.join(', ')} or metadata.<name>`,
  });
export type FieldMap = z.infer<typeof fieldMapSchema>;

/** Field mappings for common log shapes. */
export const PRESETS = {
  /** LMSYS-Chat-1M: the conversation is an OpenAI-style message list; its last assistant turn is graded. */
  lmsys: {
    id: 'conversation_id',
    messages: 'conversation',
    'metadata.model': 'model',
    'metadata.language': 'language',
  },
  /** A Langfuse trace export: `input` is the instruction, `output` the response. */
  langfuse: { id: 'id', instruction: 'input', response: 'output', metadata: 'metadata' },
  /** A Hugging Face preference set: `chosen` and `rejected` graded as a pair (A = chosen). */
  'hf-preference': { instruction: 'prompt', responses: '[chosen, rejected]' },
} as const satisfies Record<string, FieldMap>;
export type PresetName = keyof typeof PRESETS;
export const presetNameSchema = z.enum(Object.keys(PRESETS) as [PresetName, ...PresetName[]]);

/** Most rubrics one run grades every item on: each multiplies the run's work. */
export const MAX_RUBRICS = 16;

/** How raw records become items; the same options locally (`phudge grade`) and on the fleet (a run's options). */
export const itemOptionsSchema = z.object({
  /** Rubric for items that name none. */
  rubric: rubricSpecSchema.optional(),
  /** Grade every item once per rubric: one result per item and rubric (an item's own rubric is then not used). */
  rubrics: z.array(rubricSpecSchema).min(1).max(MAX_RUBRICS).optional(),
  /** Force a mode; an item of the other shape is then invalid. Inferred from each item's shape when absent. */
  mode: z.enum(['absolute', 'relative']).optional(),
  /** A field mapping for the log's own schema (JMESPath per request field). */
  map: fieldMapSchema.optional(),
  /** A mapping for a common log shape; `map` entries override its own. */
  preset: presetNameSchema.optional(),
});
export type ItemOptions = z.infer<typeof itemOptionsSchema>;

/**
 * Where a run's results go besides the JSONL parts: `parquet` also writes them as Parquet files
 * under `runs/<id>/results-parquet/` when the run completes.
 */
export const outputOptionsSchema = z.strictObject({ format: z.enum(['jsonl', 'parquet']) });
export type OutputOptions = z.infer<typeof outputOptionsSchema>;
