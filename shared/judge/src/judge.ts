import {
  type ErrorResult,
  type GradingMode,
  type GradingRequest,
  InvalidInputError,
  parseDevice,
  parseGradingRequest,
  type ResultRecord,
  type RubricSpec,
  UnrecoverableError,
} from '@phudge/core';
import { packBatches } from './batcher.js';
import { type JudgeBundle, loadBundle } from './bundle.js';
import { Engine } from './engine/engine.js';
import { decodeScores, type HeadDecoder, pickWinner, type Score } from './heads.js';
import { padBatch } from './padding.js';
import { buildPromptFields, promptRenderer } from './prompts.js';
import { createSanitizer, type Sanitizer } from './sanitize.js';
import { JudgeTokenizer } from './tokenizer.js';
import { fitPrompt } from './truncate.js';

/** Options of a {@link Judge}. */
export interface JudgeOptions {
  /** Judge bundle directory. */
  model: string;
  /** `cpu` or `cuda:N`. @defaultValue `cpu` */
  device?: string;
  /** ORT intra-op threads; 0 lets ORT choose. @defaultValue 0 */
  threads?: number;
  /** Padded tokens per model batch (rows x longest row). @defaultValue 16384 */
  maxBatchTokens?: number;
  /** Rows per model batch. @defaultValue 64 */
  maxBatchSize?: number;
  /** Items sorted by length together before batching. @defaultValue 1024 */
  window?: number;
  /** Relative mode: score differences up to this are a tie. @defaultValue 0.25 */
  tieMargin?: number;
  /** Force a mode; otherwise each line's shape decides. */
  mode?: GradingMode;
  /** Rubric for lines that name none. */
  rubric?: RubricSpec;
  /** Told about degraded operation, such as a CPU fallback. */
  onWarning?: (message: string) => void;
}

/** One line of JSONL input, with its 1-based line number. */
export interface InputLine {
  line: number;
  text: string;
}

/** Token accounting of everything graded so far. */
export interface JudgeStats {
  items: number;
  prompts: number;
  batches: number;
  realTokens: number;
  paddedTokens: number;
}

interface PromptSlot {
  ids: number[];
  truncated: boolean;
  score?: Score;
}

interface PreparedItem {
  line: number;
  request?: GradingRequest;
  error?: ErrorResult;
  prompts: PromptSlot[];
  sanitized: boolean;
  rubricLabel?: string;
}

/**
 * Local grading end to end: JSONL lines in, result records out in input order. Reads a window
 * of lines, tokenizes it off the event loop, sorts it by length into batches under the token
 * budget, and queues them on the engine thread; the next window is prepared while the model runs.
 */
export class Judge {
  readonly stats: JudgeStats = { items: 0, prompts: 0, batches: 0, realTokens: 0, paddedTokens: 0 };
  private readonly render;
  private readonly sanitize: Sanitizer;
  private readonly decoder: HeadDecoder;

  private constructor(
    readonly bundle: JudgeBundle,
    readonly tokenizer: JudgeTokenizer,
    readonly engine: Engine,
    private readonly options: Required<
      Omit<JudgeOptions, 'mode' | 'rubric' | 'onWarning' | 'device' | 'threads'>
    > &
      Pick<JudgeOptions, 'mode' | 'rubric'>,
  ) {
    const { manifest } = bundle;
    this.render = promptRenderer(manifest);
    this.sanitize = createSanitizer(tokenizer.specialTokens);
    this.decoder = { head: manifest.head, scoreRange: manifest.score_range };
    if (manifest.head === 'causal') {
      this.decoder.scoreTokenIds = (manifest.score_tokens as string[]).map((token) => {
        const id = tokenizer.tokenId(token);
        if (id === undefined)
          throw new UnrecoverableError(
            `judge bundle ${bundle.dir}: score token "${token}" is not in the vocabulary`,
          );
        return id;
      });
    }
  }

  /** Loads the bundle, verifies it, and starts and warms the engine. */
  static async open(options: JudgeOptions): Promise<Judge> {
    const bundle = await loadBundle(options.model);
    const tokenizer = await JudgeTokenizer.load(bundle);
    const maxBatchTokens = options.maxBatchTokens ?? 16384;
    if (maxBatchTokens < bundle.manifest.max_length) {
      throw new UnrecoverableError(
        `max batch tokens (${maxBatchTokens}) must hold one full prompt of the judge (max_length ${bundle.manifest.max_length})`,
      );
    }
    const { manifest } = bundle;
    const engine = await Engine.start(
      {
        modelPath: bundle.modelPath,
        device: parseDevice(options.device ?? 'cpu'),
        threads: options.threads ?? 0,
        inputIds: manifest.inputs.input_ids,
        attentionMask: manifest.inputs.attention_mask,
        output: manifest.output,
      },
      options.onWarning,
    );
    return new Judge(bundle, tokenizer, engine, {
      model: options.model,
      maxBatchTokens,
      maxBatchSize: options.maxBatchSize ?? 64,
      window: options.window ?? 1024,
      tieMargin: options.tieMargin ?? 0.25,
      mode: options.mode,
      rubric: options.rubric,
    });
  }

  get modelId(): string {
    return this.bundle.modelId;
  }

  /** Grades JSONL lines; yields exactly one record per line, in input order. */
  async *grade(lines: AsyncIterable<InputLine>): AsyncGenerator<ResultRecord> {
    let inFlight: Promise<ResultRecord[]> | undefined;
    for await (const window of windows(lines, this.options.window)) {
      const prepared = await this.prepare(window);
      const scored = this.score(prepared);
      scored.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
      if (inFlight) yield* await inFlight;
      inFlight = scored;
    }
    if (inFlight) yield* await inFlight;
  }

  /** Finishes queued batches and stops the engine thread. */
  async close(): Promise<void> {
    await this.engine.close();
  }

  private async prepare(lines: InputLine[]): Promise<PreparedItem[]> {
    const items: PreparedItem[] = [];
    const texts: string[] = [];
    const fieldsOf: { item: PreparedItem; fields: ReturnType<typeof buildPromptFields>['fields'][number] }[] =
      [];
    for (const { line, text } of lines) {
      const item: PreparedItem = { line, prompts: [], sanitized: false };
      items.push(item);
      let value: unknown;
      try {
        value = parseJson(text);
        item.request = parseGradingRequest(value, line, this.options);
        const built = buildPromptFields(item.request, this.sanitize);
        item.sanitized = built.sanitized;
        if (built.rubricLabel) item.rubricLabel = built.rubricLabel;
        for (const fields of built.fields) {
          texts.push(this.render(fields));
          fieldsOf.push({ item, fields });
        }
      } catch (error) {
        item.error = errorRecord(line, error, item.request?.id ?? declaredId(value));
      }
    }
    const encoded = await this.tokenizer.encode(texts);
    const maxLength = this.bundle.manifest.max_length;
    await Promise.all(
      fieldsOf.map(async ({ item, fields }, i) => {
        try {
          item.prompts.push(
            await fitPrompt(fields, encoded[i] as number[], this.render, this.tokenizer, maxLength),
          );
        } catch (error) {
          item.error ??= errorRecord(item.line, error, item.request?.id);
        }
      }),
    );
    return items;
  }

  private async score(items: PreparedItem[]): Promise<ResultRecord[]> {
    const slots = items.filter((item) => !item.error).flatMap((item) => item.prompts);
    const lengths = slots.map((slot) => slot.ids.length);
    const batches = packBatches(lengths, this.options);
    await Promise.all(
      batches.map(async (batch) => {
        const sequences = batch.map((index) => (slots[index] as PromptSlot).ids);
        const padded = padBatch(sequences, this.tokenizer.padId, this.tokenizer.paddingSide);
        this.stats.batches += 1;
        this.stats.prompts += batch.length;
        this.stats.paddedTokens += padded.rows * padded.columns;
        for (const ids of sequences) this.stats.realTokens += ids.length;
        const output = await this.engine.run(padded);
        const scores = decodeScores(this.decoder, output.logits, output.rows);
        batch.forEach((index, row) => {
          (slots[index] as PromptSlot).score = scores[row];
        });
      }),
    );
    this.stats.items += items.length;
    return items.map((item) => this.toRecord(item));
  }

  private toRecord(item: PreparedItem): ResultRecord {
    if (item.error) return item.error;
    const request = item.request as GradingRequest;
    const scores = item.prompts.map((prompt) => prompt.score as Score);
    const common = {
      truncated: item.prompts.some((prompt) => prompt.truncated),
      ...(item.sanitized ? { sanitized: true } : {}),
      tokens: item.prompts.reduce((sum, prompt) => sum + prompt.ids.length, 0),
      model: this.modelId,
      ...(item.rubricLabel ? { rubric: item.rubricLabel } : {}),
      ...(request.metadata ? { metadata: request.metadata } : {}),
    };
    const [a, b] = scores as [Score, Score | undefined];
    if (!b) {
      return {
        id: request.id,
        score: round(a.score),
        ...(a.label !== undefined ? { label: a.label } : {}),
        ...(a.probabilities ? { probabilities: a.probabilities.map(round) } : {}),
        ...common,
      };
    }
    return {
      id: request.id,
      scores: [round(a.score), round(b.score)],
      winner: pickWinner(a.score, b.score, this.options.tieMargin),
      ...(a.label !== undefined && b.label !== undefined
        ? { labels: [a.label, b.label] as [number, number] }
        : {}),
      ...(a.probabilities && b.probabilities
        ? { probabilities: [a.probabilities.map(round), b.probabilities.map(round)] as [number[], number[]] }
        : {}),
      ...common,
    };
  }
}

async function* windows<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let window: T[] = [];
  for await (const item of source) {
    window.push(item);
    if (window.length >= size) {
      yield window;
      window = [];
    }
  }
  if (window.length > 0) yield window;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError('invalid_json', `not valid JSON: ${(error as Error).message}`);
  }
}

/** The id a line gave itself, so that its error record can name it even when the line is invalid. */
function declaredId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('id' in value)) return undefined;
  const { id } = value as { id: unknown };
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

function errorRecord(line: number, error: unknown, id: string | undefined): ErrorResult {
  if (!(error instanceof InvalidInputError)) throw error;
  return { ...(id !== undefined ? { id } : {}), line, error: { code: error.code, message: error.message } };
}

/** Four decimals: far below the judge's own noise, and results stay readable. */
function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
