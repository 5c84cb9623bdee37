import {
  type ChunkEntry,
  type ErrorResult,
  type GradingRequest,
  parseDevice,
  type ResultRecord,
  toErrorRecord,
  UnrecoverableError,
} from '@phudge/core';
import { engineOptions, type JudgeBundle, loadBundle } from './bundle.js';
import { Engine, type ModelEngine } from './engine/engine.js';
import type { EngineOptions } from './engine/protocol.js';
import { decodeScores, type HeadDecoder, pickWinner, type Score } from './heads.js';
import { buildPromptFields, promptRenderer } from './prompts.js';
import { createSanitizer, type Sanitizer } from './sanitize.js';
import { type BatchReport, BatchScheduler, type SchedulerStats, type ScoredPrompt } from './scheduler.js';
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
  /** Lines sorted by length together before batching, in {@link Judge.grade}. @defaultValue 1024 */
  window?: number;
  /** Relative mode: score differences up to this are a tie. @defaultValue 0.25 */
  tieMargin?: number;
  /** Told about degraded operation, such as a CPU fallback. */
  onWarning?: (message: string) => void;
  /** Told about every model batch (for metrics). */
  onBatch?: (report: BatchReport) => void;
  /** Starts the engine. @defaultValue the ORT engine thread; benchmarks pass a stand-in to measure the host alone */
  startEngine?: (options: EngineOptions, onWarning?: (message: string) => void) => Promise<ModelEngine>;
}

interface PreparedPrompt {
  ids: number[];
  truncated: boolean;
}

/** An item made ready for the model, or the error it turned out to be. */
interface PreparedItem {
  source?: string;
  line: number;
  request?: GradingRequest;
  error?: ErrorResult;
  prompts: PreparedPrompt[];
  sanitized: boolean;
  rubricLabel?: string;
}

/** Model time spent on some entries, added up by {@link Judge.gradeEntries}. */
export interface EngineCost {
  engineMs: number;
}

/**
 * The judge: a verified bundle, its tokenizer, and one engine thread fed by one batch scheduler.
 * It takes items already through the items step (`ItemBuilder`: validated requests, or the
 * error records they became) and gives one result record per item, in order. `grade()` serves
 * local runs (a stream of items); `gradeEntries()` serves chunk jobs, several at once, whose
 * prompts share model batches.
 */
export class Judge {
  private readonly render;
  private readonly sanitize: Sanitizer;
  private readonly scheduler: BatchScheduler;

  private constructor(
    readonly bundle: JudgeBundle,
    readonly tokenizer: JudgeTokenizer,
    readonly engine: ModelEngine,
    private readonly options: { window: number; tieMargin: number },
    limits: { maxBatchTokens: number; maxBatchSize: number; onBatch?: (report: BatchReport) => void },
  ) {
    const { manifest } = bundle;
    this.render = promptRenderer(manifest);
    this.sanitize = createSanitizer(tokenizer.specialTokens);
    const decoder: HeadDecoder = { head: manifest.head, scoreRange: manifest.score_range };
    if (manifest.head === 'causal') decoder.scoreTokenIds = scoreTokenIds(bundle, tokenizer);
    this.scheduler = new BatchScheduler(engine, {
      ...limits,
      padId: tokenizer.padId,
      paddingSide: tokenizer.paddingSide,
      decode: (logits, rows) => decodeScores(decoder, logits, rows),
    });
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
    const engine = await (options.startEngine ?? Engine.start)(
      engineOptions(bundle, parseDevice(options.device ?? 'cpu'), options.threads ?? 0),
      options.onWarning,
    );
    return new Judge(
      bundle,
      tokenizer,
      engine,
      { window: options.window ?? 1024, tieMargin: options.tieMargin ?? 0.25 },
      {
        maxBatchTokens,
        maxBatchSize: options.maxBatchSize ?? 64,
        ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      },
    );
  }

  get modelId(): string {
    return this.bundle.modelId;
  }

  /** What each result names as its grader: the bundle, its weights' digest, its template. */
  get provenance(): { model: string; modelSha256: string; template: string } {
    const { manifest } = this.bundle;
    return { model: this.modelId, modelSha256: manifest.sha256.slice(0, 12), template: manifest.template };
  }

  /** Batches, prompts and tokens fed to the model so far. */
  get stats(): SchedulerStats {
    return this.scheduler.stats;
  }

  /**
   * Grades a stream of items; yields exactly one record per item, in input order. Reads a window
   * of items and queues its prompts; the next window is tokenized while the model runs.
   */
  async *grade(entries: AsyncIterable<ChunkEntry>): AsyncGenerator<ResultRecord> {
    let inFlight: Promise<ResultRecord[]> | undefined;
    for await (const window of windows(entries, this.options.window)) {
      const scored = this.score(await this.prepare(window));
      scored.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
      if (inFlight) yield* await inFlight;
      inFlight = scored;
    }
    if (inFlight) yield* await inFlight;
  }

  /**
   * Grades the entries of a chunk (requests validated by the producer, or their errors), in order.
   * @param cost adds the model time of these entries to its `engineMs`: each batch's time shared
   *   out by tokens over the prompts in it, whichever chunk they came from.
   */
  async gradeEntries(entries: readonly ChunkEntry[], cost?: EngineCost): Promise<ResultRecord[]> {
    return this.score(await this.prepare(entries), cost);
  }

  /** Stops taking work: prompts not yet on the engine are refused with a DrainingError. */
  drain(): void {
    this.scheduler.drain();
  }

  /** Finishes the batches on the engine and stops the engine thread. */
  async close(): Promise<void> {
    await this.engine.close();
  }

  private async prepare(entries: readonly ChunkEntry[]): Promise<PreparedItem[]> {
    const items = entries.map((entry): PreparedItem => {
      const position = { ...(entry.source !== undefined ? { source: entry.source } : {}), line: entry.line };
      if ('error' in entry) return { ...position, error: entry, prompts: [], sanitized: false };
      return { ...position, request: entry.request, prompts: [], sanitized: false };
    });
    await this.tokenize(items);
    return items;
  }

  /** Renders, sanitizes, tokenizes and fits each item's prompts; a prompt that cannot fit makes the item an error. */
  private async tokenize(items: PreparedItem[]): Promise<void> {
    const texts: string[] = [];
    const owners: { item: PreparedItem; fields: ReturnType<typeof buildPromptFields>['fields'][number] }[] =
      [];
    for (const item of items) {
      if (!item.request) continue;
      const built = buildPromptFields(item.request, this.sanitize);
      item.sanitized = built.sanitized;
      if (built.rubricLabel) item.rubricLabel = built.rubricLabel;
      for (const fields of built.fields) {
        texts.push(this.render(fields));
        owners.push({ item, fields });
      }
    }
    const encoded = await this.tokenizer.encode(texts);
    const maxLength = this.bundle.manifest.max_length;
    const fitted = await Promise.all(
      owners.map(({ fields }, i) =>
        fitPrompt(fields, encoded[i] as number[], this.render, this.tokenizer, maxLength).catch(
          (error) => error as Error,
        ),
      ),
    );
    owners.forEach(({ item }, i) => {
      const result = fitted[i] as PreparedPrompt | Error;
      if (result instanceof Error) {
        item.error ??= {
          ...toErrorRecord(item.line, result, item.request?.id, item.source),
          ...(item.rubricLabel ? { rubric: item.rubricLabel } : {}),
        };
      } else item.prompts.push(result);
    });
  }

  private async score(items: PreparedItem[], cost?: EngineCost): Promise<ResultRecord[]> {
    const graded = items.filter((item) => !item.error);
    const scored = await this.scheduler.scoreWithCost(
      graded.flatMap((item) => item.prompts.map((prompt) => prompt.ids)),
    );
    if (cost) for (const prompt of scored) cost.engineMs += prompt.engineMs;
    let next = 0;
    const scoresOf = new Map(
      graded.map((item) => [item, item.prompts.map(() => (scored[next++] as ScoredPrompt).score)]),
    );
    return items.map((item) => this.toRecord(item, scoresOf.get(item) ?? []));
  }

  private toRecord(item: PreparedItem, scores: Score[]): ResultRecord {
    if (item.error) return item.error;
    const request = item.request as GradingRequest;
    const common = {
      ...(item.source !== undefined ? { source: item.source } : {}),
      line: item.line,
      truncated: item.prompts.some((prompt) => prompt.truncated),
      ...(item.sanitized ? { sanitized: true } : {}),
      tokens: item.prompts.reduce((sum, prompt) => sum + prompt.ids.length, 0),
      ...this.provenance,
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

function scoreTokenIds(bundle: JudgeBundle, tokenizer: JudgeTokenizer): number[] {
  return (bundle.manifest.score_tokens as string[]).map((token) => {
    const id = tokenizer.tokenId(token);
    if (id === undefined) {
      throw new UnrecoverableError(
        `judge bundle ${bundle.dir}: score token "${token}" is not in the vocabulary`,
      );
    }
    return id;
  });
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

/** Four decimals: far below the judge's own noise, and results stay readable. */
function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
