import { z } from 'zod';

/** How the model's output becomes a score. */
export const headSchema = z.enum(['regression', 'classification', 'causal']);
export type Head = z.infer<typeof headSchema>;

/** Which prompt layout the judge was trained on. */
export const templateSchema = z.enum(['phudge', 'prometheus']);
export type TemplateName = z.infer<typeof templateSchema>;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase sha256 hex digest');

/** `judge.json`: everything about a model that the engine must not hard-code. */
export const judgeManifestSchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    head: headSchema,
    template: templateSchema,
    max_length: z.number().int().min(64),
    score_range: z.tuple([z.number(), z.number()]).default([1, 5]),
    inputs: z.object({ input_ids: z.string().min(1), attention_mask: z.string().min(1) }),
    output: z.string().min(1),
    model_file: z.string().min(1).default('model.onnx'),
    sha256,
    /** Weights kept beside the graph (ONNX external data), for models past 2 GB. */
    external_data: z.string().min(1).optional(),
    external_data_sha256: sha256.optional(),
    /** causal head: the tokens whose next-token logits are the scores 1..5. */
    score_tokens: z.array(z.string().min(1)).length(5).optional(),
    /** causal head: text appended after the assistant marker so that the next token is the score. */
    score_prefix: z.string().optional(),
    /**
     * Put before every prompt's text when tokenizing. "▁" reproduces the slow Llama tokenizer
     * (tokenizer_config `legacy: false`) that PHUDGE was trained with: one "▁" before the whole
     * text, dropped again when a named special token (bos, eos, unk, pad, sep, cls, mask, or
     * one of additional_special_tokens) follows it. Paired with a tokenizer.json that no longer
     * prepends "▁" to every segment (models/export --match-slow-tokenizer).
     */
    text_prefix: z.string().min(1).optional(),
    /** A random test model: its scores mean nothing. */
    untrained: z.boolean().default(false),
    provenance: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((m) => m.head !== 'causal' || m.score_tokens !== undefined, {
    message: 'a causal judge needs score_tokens',
    path: ['score_tokens'],
  })
  .refine((m) => (m.external_data === undefined) === (m.external_data_sha256 === undefined), {
    message: 'external_data and external_data_sha256 go together',
    path: ['external_data_sha256'],
  })
  .refine((m) => m.score_range[0] < m.score_range[1], {
    message: 'score_range must be [low, high] with low < high',
    path: ['score_range'],
  });
export type JudgeManifest = z.infer<typeof judgeManifestSchema>;
