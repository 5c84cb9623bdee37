/** Messages between the main thread and the engine thread (one ONNX Runtime session). */

export interface EngineOptions {
  modelPath: string;
  device: { kind: 'cpu' } | { kind: 'cuda'; id: number };
  /** ORT intra-op threads; 0 lets ORT choose. */
  threads: number;
  inputIds: string;
  attentionMask: string;
  output: string;
}

/** One padded batch, row-major [rows, columns]; the buffers are transferred, not copied. */
export interface EngineBatch {
  rows: number;
  columns: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
}

export interface EngineOutput {
  /** Row-major [rows, width]. */
  logits: Float32Array;
  rows: number;
  /** Milliseconds inside session.run. */
  runMs: number;
}

export type ToEngine = { type: 'run'; id: number; batch: EngineBatch } | { type: 'close' };

export type FromEngine =
  | { type: 'ready'; provider: string; warmupMs: number; warning?: string }
  | { type: 'init-failed'; message: string }
  | { type: 'result'; id: number; output: EngineOutput }
  | { type: 'run-failed'; id: number; message: string };
